// SPDX-License-Identifier: Apache-2.0
#pragma once
// SharedObjectClient: one RTMP connection's use of one remote shared object, on the connection's
// poll group. It maps the client's events (use, request change, request remove, send, release)
// onto the kernel's shared objects (weir/shared_objects.h) and their updates back onto the events
// a Flash client expects:
//
//   initial update          -> use success, clear, change per slot
//   changed by this client  -> success (the client has the value already)
//   changed by another      -> change          removed -> remove      cleared -> clear
//   message                 -> send message    refused -> change/remove with the current value
//   failed (a broken file)  -> status (level error), and the object is released

#include <memory>

#include "formats/rtmp/shared_object.h"
#include "weir/shared_objects.h"

namespace weir::rtmp {

class RtmpSession;

class SharedObjectClient final : public SharedObjectSubscriber {
 public:
  /// `is_amf3`: the client used message type 16; replies use it too.
  SharedObjectClient(RtmpSession& session, SharedObjectKey key, bool is_amf3);
  ~SharedObjectClient();

  /// Subscribes; Errc::malformed for a bad name (nothing is kept then).
  Status start();
  const SharedObjectKey& key() const noexcept { return key_; }
  SharedObjectSubscription* subscription() noexcept { return subscription_.get(); }
  /// Unsubscribes now: no callback follows (the session is closing).
  void detach() noexcept { subscription_.reset(); }

  // SharedObjectSubscriber
  void on_update(const SharedObjectUpdate& update) noexcept override;
  void on_refused(std::string_view slot, const Value& current, const Status& why) noexcept override;
  void on_failed(const Status& why) noexcept override;

 private:
  formats::rtmp::SharedObjectMessage message(std::uint64_t version) const;

  RtmpSession& session_;
  SharedObjectKey key_;
  bool is_amf3_;
  std::uint64_t version_ = 0;  // the last one the client was sent
  std::unique_ptr<SharedObjectSubscription> subscription_;
};

}  // namespace weir::rtmp
