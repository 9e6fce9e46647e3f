// SPDX-License-Identifier: Apache-2.0
#include "shared_object_client.h"

#include "session.h"
#include "app_values.h"

namespace weir::rtmp {
namespace wire = formats::rtmp;
using EventType = wire::SharedObjectEventType;

SharedObjectClient::SharedObjectClient(RtmpSession& session, SharedObjectKey key, bool is_amf3)
    : session_(session), key_(std::move(key)), is_amf3_(is_amf3) {}

SharedObjectClient::~SharedObjectClient() = default;

Status SharedObjectClient::start() {
  auto subscription = session_.group().poll_group().shared_objects().subscribe(key_, *this);
  if (!subscription) return subscription.error();
  subscription_ = std::move(*subscription);
  return ok();
}

wire::SharedObjectMessage SharedObjectClient::message(std::uint64_t version) const {
  wire::SharedObjectMessage m;
  m.name = key_.name;
  m.version = static_cast<std::uint32_t>(version);
  m.persistent = key_.persistent;
  return m;
}

void SharedObjectClient::on_update(const SharedObjectUpdate& update) noexcept {
  version_ = update.version;
  wire::SharedObjectMessage m = message(update.version);
  if (update.is_initial) {
    m.events.push_back({EventType::use_success, {}, {}, {}, {}});
  }
  const SharedObjectClientId self = subscription_ ? subscription_->id() : 0;
  for (const SharedObjectEvent& e : update.events) {
    switch (e.type) {
      case SharedObjectEvent::Type::changed:
        if (!update.is_initial && e.origin == self) m.events.push_back({EventType::success, e.name, {}, {}, {}});
        else m.events.push_back({EventType::change, e.name, to_amf(e.value), {}, {}});
        break;
      case SharedObjectEvent::Type::removed: m.events.push_back({EventType::remove, e.name, {}, {}, {}}); break;
      case SharedObjectEvent::Type::cleared: m.events.push_back({EventType::clear, {}, {}, {}, {}}); break;
      case SharedObjectEvent::Type::message: {
        std::vector<formats::amf::Value> args;
        for (const Value& arg : e.value.items()) args.push_back(to_amf(arg));
        m.events.push_back({EventType::send_message, e.name, {}, std::move(args), {}});
        break;
      }
    }
  }
  session_.send_shared_object(m, is_amf3_);
}

void SharedObjectClient::on_refused(std::string_view slot, const Value& current, const Status& why) noexcept {
  session_.logger().info("conn={} shared object {}: change of '{}' refused: {}", session_.connection().id(),
                         key_.to_string(), slot, why.message());
  // The authoritative value (or its absence) makes the client report "reject" for its change.
  wire::SharedObjectMessage m = message(version_);
  if (current.is_undefined()) m.events.push_back({EventType::remove, std::string(slot), {}, {}, {}});
  else m.events.push_back({EventType::change, std::string(slot), to_amf(current), {}, {}});
  session_.send_shared_object(m, is_amf3_);
}

void SharedObjectClient::on_failed(const Status& why) noexcept {
  session_.logger().warn("conn={} shared object {}: {}", session_.connection().id(), key_.to_string(), why.message());
  wire::SharedObjectMessage m = message(version_);
  m.events.push_back({EventType::status, key_.persistent ? "SharedObject.BadPersistence" : "SharedObject.UseFailed",
                      {}, {}, "error"});
  session_.send_shared_object(m, is_amf3_);
  session_.release_shared_object(key_);  // after this call: we are inside our own subscription's delivery
}

}  // namespace weir::rtmp
