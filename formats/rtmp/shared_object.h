// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTMP shared-object messages (message types 19, AMF0, and 16, AMF3): one object's name, version
/// and flags, then a list of events. Stateless: decode_shared_object() checks every length against
/// the bytes that are there; encode_shared_object() writes what the server sends.
///
///   u16 name length, name (UTF-8) | u32 version | u32 flags (2: persistent) | u32 reserved
///   events: { u8 type | u32 data length | data }*
///   data by type:  use, release, clear, use success: none
///                  request change, change: u16 length, slot name, one AMF value
///                  success, remove, request remove: u16 length, slot name
///                  send message: AMF values: the handler's name (a string), then its arguments
///                  status: u16 length, code, u16 length, level
/// Type 16 starts with one more byte, the encoding of the values: 0 (AMF0, with the AVM+ switch
/// to AMF3 where needed) or 3 (AMF3).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/amf/value.h"
#include "weir/status.h"

namespace weir::formats::rtmp {

enum class SharedObjectEventType : std::uint8_t {
  use = 1,             ///< client: subscribe
  release = 2,         ///< client: unsubscribe
  request_change = 3,  ///< client: set a slot
  change = 4,          ///< server: a slot changed (another client's change, or initial data)
  success = 5,         ///< server: the client's own change was applied
  send_message = 6,    ///< both: call a handler on every subscriber
  status = 7,          ///< server: an error or warning about the object
  clear = 8,           ///< server: forget every slot
  remove = 9,          ///< server: a slot is gone
  request_remove = 10, ///< client: remove a slot
  use_success = 11,    ///< server: the use was accepted
};

/// The event's name for logs ("request change"); "unknown" for other numbers.
std::string_view shared_object_event_name(std::uint8_t type) noexcept;

struct SharedObjectEventData {
  SharedObjectEventType type = SharedObjectEventType::use;
  std::string name;              ///< slot (change, success, remove, requests), handler, status code
  amf::Value value;              ///< change, request change: the slot's value
  std::vector<amf::Value> args;  ///< send message: the handler's arguments
  std::string level;             ///< status: "error", "warning"
};

struct SharedObjectMessage {
  std::string name;
  std::uint32_t version = 0;
  bool persistent = false;
  std::vector<SharedObjectEventData> events;
};

/// Decodes a message of type 19 (`is_amf3` false) or 16 (true). Errc::malformed naming the event
/// and the offset for anything that does not fit; Errc::unsupported for an unknown event type
/// or value encoding.
Result<SharedObjectMessage> decode_shared_object(std::span<const std::uint8_t> payload, bool is_amf3) noexcept;

/// Appends the message's payload for type 19 (`is_amf3` false) or 16 (values as AMF0 behind
/// format byte 0). Errc::limit for a name past 65535 bytes or a value the AMF writer refuses.
Status encode_shared_object(const SharedObjectMessage& message, bool is_amf3, std::vector<std::uint8_t>& out);

}  // namespace weir::formats::rtmp
