// SPDX-License-Identifier: Apache-2.0
#pragma once
// SharedObjectsImpl: one poll group's side of the shared objects (weir/shared_objects.h).
//
//   any group --ObjectRequest(subscribe|unsubscribe|set|remove|clear|send|get)--> owner group
//   owner: OwnedObject {slots, version, subscribed groups, this turn's events}
//     subscribe  -> ObjectSnapshot (the whole object, or why it failed) to that group
//     end of turn -> one ObjectUpdated (shared, immutable batch) per subscribed group
//     requests    -> RequestDone (ok / refused, with the slot's current value) to the asker
//   subscriber group: LocalObject {replica of the slots, local subscriptions}
//
// The owner is hash(app, name, persistent) % groups, so every group finds it without asking
// anyone. A persistent object is read from its file (worker pool) when first used; requests wait
// for it in order. After a turn that changed it, it is written (temp file + rename) through the
// worker pool, one write at a time per object; changes during a write make one more write.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "poll_group/poll_group.h"
#include "weir/owner.h"
#include "weir/shared_objects.h"

namespace weir::kernel {

/// Settings from the [shared_objects] section.
struct SharedObjectSettings {
  std::string directory = "/var/lib/weir/shared_objects";  ///< empty: persistent objects refused
  std::uint32_t max_slots = 1024;                          ///< per object
  std::uint64_t max_object_bytes = 1u << 20;               ///< slots as stored (object_file.h)
  std::uint32_t max_name_bytes = 1024;                     ///< object and slot names
};

/// What every group shares: the settings and which objects are in memory (for names()). The
/// mutex guards the name set, touched only when an object is made or dropped, never per change.
class SharedObjectRegistry {
 public:
  explicit SharedObjectRegistry(SharedObjectSettings settings) : settings_(std::move(settings)) {}
  const SharedObjectSettings& settings() const noexcept { return settings_; }
  void add(const SharedObjectKey& key);
  void remove(const SharedObjectKey& key);
  std::vector<SharedObjectKey> in_memory(std::string_view app) const;

 private:
  const SharedObjectSettings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, SharedObjectKey> keys_;
};

/// A request for an object's owner. Plain data: it crosses groups.
struct ObjectRequest {
  enum class Op : std::uint8_t { subscribe, unsubscribe, set, remove, clear, send, get };
  Op op = Op::get;
  SharedObjectKey key;
  GroupId from = 0;
  std::uint64_t serial = 0;  // subscribe: which local object asked (a resubscribe is a new one)
  std::string slot;          // set/remove: the slot; send: the handler
  Value value;               // set: the value; send: the arguments (an array)
  SharedObjectClientId origin = 0;
  std::uint64_t token = 0;   // the asker's callback, 0 when none
};

struct SharedObjectBatch {
  std::uint64_t version = 0;
  std::vector<SharedObjectEvent> events;
};

class SharedObjectsImpl final : public SharedObjects, public TurnHook {
 public:
  explicit SharedObjectsImpl(PollGroupImpl& group);
  ~SharedObjectsImpl();
  /// Connects every group to the shared registry (before the groups start).
  void attach(SharedObjectRegistry& registry) noexcept { registry_ = &registry; }
  /// The group that owns `key`.
  GroupId owner_of(const SharedObjectKey& key) const noexcept;
  /// After the group's thread stopped: the main thread drains what is left.
  void rebind_owner() noexcept { owner_.rebind(); }

  // SharedObjects
  Result<std::unique_ptr<SharedObjectSubscription>> subscribe(const SharedObjectKey& key,
                                                              SharedObjectSubscriber& subscriber) noexcept override;
  void set(const SharedObjectKey& key, std::string_view slot, Value value, SharedObjectDone done) noexcept override;
  void remove(const SharedObjectKey& key, std::string_view slot, SharedObjectDone done) noexcept override;
  void clear(const SharedObjectKey& key, SharedObjectDone done) noexcept override;
  void send(const SharedObjectKey& key, std::string_view handler, std::vector<Value> args,
            SharedObjectDone done) noexcept override;
  void get(const SharedObjectKey& key, std::function<void(Result<SharedObjectSnapshot>)> done) noexcept override;
  void names(std::string_view app, std::function<void(Result<std::vector<SharedObjectKey>>)> done) noexcept override;

  // TurnHook: changed objects send their batches.
  void on_end_of_turn() noexcept override;

  // Message handlers (this group's thread).
  void on_request(ObjectRequest request);
  void on_loaded(const std::string& id, Result<SharedObjectSnapshot> loaded);
  void on_snapshot(const std::string& id, std::uint64_t serial, Result<SharedObjectSnapshot> snapshot);
  void on_updated(const std::string& id, const std::shared_ptr<const SharedObjectBatch>& batch);
  void on_request_done(std::uint64_t token, SharedObjectClientId origin, const std::string& slot, Status status,
                       const Value& current);
  void on_get_done(std::uint64_t token, Result<SharedObjectSnapshot> snapshot);

  // For subscriptions (this group's thread).
  class SubscriptionImpl;
  struct LocalObject;
  void request(ObjectRequest request, SharedObjectDone done);
  void unsubscribe(SubscriptionImpl& subscription) noexcept;
  PollGroupImpl& group() noexcept { return group_; }
  const SharedObjectSettings& settings() const noexcept;
  Status check_name(std::string_view what, std::string_view name) const;

  /// The map key of an object: app, name and persistence, unambiguous.
  static std::string id_of(const SharedObjectKey& key);

 private:
  struct OwnedObject;
  OwnedObject& owned(const SharedObjectKey& key, const std::string& id);
  void apply(OwnedObject& object, ObjectRequest& request);
  void reply(const ObjectRequest& request, Status status, const Value& current = Value());
  void flush(OwnedObject& object);
  void changed(OwnedObject& object);
  void write(OwnedObject& object);
  void drop_if_unused(const std::string& id);
  void deliver(LocalObject& local, const SharedObjectUpdate& update, SubscriptionImpl* only = nullptr);
  std::string path_of(const SharedObjectKey& key) const;

  ThreadOwner owner_;
  PollGroupImpl& group_;
  SharedObjectRegistry* registry_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<OwnedObject>> owned_;
  std::vector<std::string> changed_;  // owned objects with events this turn
  bool turn_requested_ = false;
  std::unordered_map<std::string, std::unique_ptr<LocalObject>> local_;
  std::unordered_map<SharedObjectClientId, SubscriptionImpl*> clients_;
  std::uint64_t next_client_ = 1;
  std::uint64_t next_serial_ = 1;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, SharedObjectDone> done_;
  std::unordered_map<std::uint64_t, std::function<void(Result<SharedObjectSnapshot>)>> get_done_;
  Logger logger_;
};

}  // namespace weir::kernel
