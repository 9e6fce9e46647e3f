// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Shared objects: named sets of slots (name -> Value) kept by the server, seen and changed by
/// every subscriber on any poll group (RTMP remote SharedObjects, scripts). Codec-agnostic: a
/// protocol module maps its own messages onto this API.
///
///   owner group O = hash(app/name) % groups            subscriber group S
///   SharedObject: slots, version, subscriber groups    local replica + local subscribers
///     requests (set, remove, clear, send)  <-----------  subscription.set("x", 1)
///     end of turn: one ObjectUpdated per group -------->  on_update(version, events) to each
///   persistent: written through the worker pool (temp file + rename), loaded when first used.
///
/// A subscriber's first update is the whole object (is_initial: a `cleared` event, then each slot
/// as `changed`); then each update carries the events of one loop turn of the owner, in order.
/// Changes from one group keep their order. Temporary objects are dropped when their last
/// subscriber leaves; persistent ones live on in their file.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"
#include "weir/value.h"

namespace weir {

/// (application, name, persistent): a persistent and a temporary object of one name are two
/// objects, as in Flash Media Server.
struct SharedObjectKey {
  std::string app;
  std::string name;
  bool persistent = false;
  /// "app/name" or "app/name (persistent)", for logs and errors.
  std::string to_string() const { return app + "/" + name + (persistent ? " (persistent)" : ""); }
  friend bool operator==(const SharedObjectKey&, const SharedObjectKey&) = default;
};

/// Who asked for a change: a subscription's id(), or 0 for the server itself (a script).
using SharedObjectClientId = std::uint64_t;

/// One thing that happened to an object.
struct SharedObjectEvent {
  enum class Type : std::uint8_t {
    changed,  ///< slot `name` now holds `value`
    removed,  ///< slot `name` is gone
    cleared,  ///< every slot is gone
    message,  ///< send(): handler `name`, arguments in `value` (an array)
  };
  Type type = Type::changed;
  std::string name;
  Value value;
  SharedObjectClientId origin = 0;  ///< who caused it (a subscriber tells "success" from "change")
};

/// Events delivered to a subscriber. Borrowed for the call.
struct SharedObjectUpdate {
  std::uint64_t version = 0;  ///< the object's version after these events
  bool is_initial = false;    ///< the whole object: `cleared`, then every slot as `changed`
  std::span<const SharedObjectEvent> events;
};

/// Receives an object's updates. Thread: the subscriber's poll group. The subscription must be
/// destroyed before the subscriber.
class SharedObjectSubscriber {
 public:
  virtual void on_update(const SharedObjectUpdate& update) noexcept = 0;
  /// A set() or remove() of this subscription was refused (`why`: a limit, a bad name). `current`
  /// is the slot's value now (undefined when the slot does not exist), so a client can roll back.
  virtual void on_refused(std::string_view slot, const Value& current, const Status& why) noexcept = 0;
  /// The object cannot be used (a persistent object's file is unreadable or broken). No update
  /// follows; destroy the subscription.
  virtual void on_failed(const Status& why) noexcept = 0;

 protected:
  ~SharedObjectSubscriber() = default;
};

/// A subscriber's handle. Thread: the subscriber's poll group. Destroying it unsubscribes.
/// Requests are asynchronous: their effect arrives as an update (or on_refused).
class SharedObjectSubscription {
 public:
  virtual ~SharedObjectSubscription() = default;
  virtual const SharedObjectKey& key() const noexcept = 0;
  /// Unique in the process; the `origin` of the events this subscription caused.
  virtual SharedObjectClientId id() const noexcept = 0;
  /// The slot as this group last heard (null before the initial update or when absent).
  /// Borrowed: valid until this group's next update of the object.
  virtual const Value* get(std::string_view slot) const noexcept = 0;
  virtual void set(std::string_view slot, Value value) noexcept = 0;
  virtual void remove(std::string_view slot) noexcept = 0;
  /// Calls `handler(args...)` on every subscriber, this one included. A refused set/remove/send
  /// (a limit, an empty name) comes back as on_refused().
  virtual void send(std::string_view handler, std::vector<Value> args) noexcept = 0;
};

/// An object as it is: its version and its slots (a Value::object, slots in the order set).
struct SharedObjectSnapshot {
  std::uint64_t version = 0;
  Value slots;
};

/// Called on the asking group when the owner has applied (or refused) a request.
using SharedObjectDone = std::function<void(Status)>;

/// The shared objects seen from one poll group. Thread: that group. Every call may be made from
/// any group; the `done` callbacks run on the calling group. Errors: Errc::limit (slots or bytes
/// over [shared_objects] max_slots / max_object_bytes), Errc::malformed (an empty or oversized
/// name), Errc::io / Errc::malformed (a persistent object's file), Errc::unsupported (persistent
/// objects without a directory).
class SharedObjects {
 public:
  /// Subscribes `subscriber` (which must outlive the handle) to `key`; the object is made (or
  /// loaded) when first used. Errc::malformed for an empty or oversized name.
  virtual Result<std::unique_ptr<SharedObjectSubscription>> subscribe(const SharedObjectKey& key,
                                                                      SharedObjectSubscriber& subscriber) noexcept = 0;
  /// Server-side changes (origin 0), applied by the owner in the order asked from this group.
  virtual void set(const SharedObjectKey& key, std::string_view slot, Value value, SharedObjectDone done = {}) noexcept = 0;
  virtual void remove(const SharedObjectKey& key, std::string_view slot, SharedObjectDone done = {}) noexcept = 0;
  virtual void clear(const SharedObjectKey& key, SharedObjectDone done = {}) noexcept = 0;
  virtual void send(const SharedObjectKey& key, std::string_view handler, std::vector<Value> args,
                    SharedObjectDone done = {}) noexcept = 0;
  /// The object's slots and version, read on its owner group.
  virtual void get(const SharedObjectKey& key, std::function<void(Result<SharedObjectSnapshot>)> done) noexcept = 0;
  /// The names of `app`'s objects: those in memory on any group and the persistent ones stored.
  virtual void names(std::string_view app, std::function<void(Result<std::vector<SharedObjectKey>>)> done) noexcept = 0;

 protected:
  ~SharedObjects() = default;
};

}  // namespace weir
