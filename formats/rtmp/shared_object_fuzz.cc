// SPDX-License-Identifier: Apache-2.0
// Fuzzes decode_shared_object() on arbitrary payloads, both message types, and checks a property
// on what it accepts: encoding the message and decoding it again gives the same events.
//
// Input: [mode: bit 0 = type 16] payload bytes...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "formats/rtmp/shared_object.h"

namespace rtmp = weir::formats::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool is_amf3 = (data[0] & 1) != 0;
  auto message = rtmp::decode_shared_object(std::span<const std::uint8_t>(data + 1, size - 1), is_amf3);
  if (!message) return 0;
  std::vector<std::uint8_t> out;
  if (!rtmp::encode_shared_object(*message, is_amf3, out)) return 0;  // e.g. a value AMF0 cannot carry
  auto again = rtmp::decode_shared_object(out, is_amf3);
  if (!again) std::abort();
  if (again->name != message->name || again->version != message->version ||
      again->persistent != message->persistent || again->events.size() != message->events.size())
    std::abort();
  for (std::size_t i = 0; i < message->events.size(); ++i) {
    const auto& a = message->events[i];
    const auto& b = again->events[i];
    if (a.type != b.type || a.name != b.name || a.level != b.level || a.args.size() != b.args.size()) std::abort();
  }
  return 0;
}
