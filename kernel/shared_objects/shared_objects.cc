// SPDX-License-Identifier: Apache-2.0
#include "shared_objects/shared_objects.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "shared_objects/object_file.h"

namespace weir::kernel {
namespace {

SharedObjectsImpl& here() { return PollGroupImpl::current()->shared_objects_impl(); }

// Messages between groups (see shared_objects.h for the flow).
struct RequestTask final : Task {
  explicit RequestTask(ObjectRequest request) : request(std::move(request)) {}
  void run() noexcept override { here().on_request(std::move(request)); }
  ObjectRequest request;
};
struct ObjectSnapshotTask final : Task {
  ObjectSnapshotTask(std::string id, std::uint64_t serial, Result<SharedObjectSnapshot> snapshot)
      : id(std::move(id)), serial(serial), snapshot(std::move(snapshot)) {}
  void run() noexcept override { here().on_snapshot(id, serial, std::move(snapshot)); }
  std::string id;
  std::uint64_t serial;
  Result<SharedObjectSnapshot> snapshot;  // or why the object cannot be used
};
struct ObjectUpdatedTask final : Task {
  ObjectUpdatedTask(std::string id, std::shared_ptr<const SharedObjectBatch> batch)
      : id(std::move(id)), batch(std::move(batch)) {}
  void run() noexcept override { here().on_updated(id, batch); }
  std::string id;
  std::shared_ptr<const SharedObjectBatch> batch;  // one immutable batch for every subscriber group
};
struct RequestDoneTask final : Task {
  RequestDoneTask(std::uint64_t token, SharedObjectClientId origin, std::string slot, Status status, Value current)
      : token(token), origin(origin), slot(std::move(slot)), status(std::move(status)), current(std::move(current)) {}
  void run() noexcept override { here().on_request_done(token, origin, slot, std::move(status), current); }
  std::uint64_t token;
  SharedObjectClientId origin;
  std::string slot;
  Status status;
  Value current;
};
struct GetDoneTask final : Task {
  GetDoneTask(std::uint64_t token, Result<SharedObjectSnapshot> snapshot) : token(token), snapshot(std::move(snapshot)) {}
  void run() noexcept override { here().on_get_done(token, std::move(snapshot)); }
  std::uint64_t token;
  Result<SharedObjectSnapshot> snapshot;
};

// FNV-1a: stable across runs and builds, so an object's owner is predictable (tests rely on it).
std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t slot_size(std::string_view name, const Value& value) { return 4 + name.size() + stored_size(value); }

Status errno_status(std::string_view what, const std::string& path) {
  return error(Errc::io, "{} {}: {}", what, path, std::strerror(errno));
}

// Worker pool: the whole file written beside the old one, flushed, then renamed over it, so a
// crash leaves the old file or the new one, never half of one.
Status write_file(const std::string& path, const std::string& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return error(Errc::io, "cannot create the directory of {}: {}", path, ec.message());
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("cannot create", temp);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status status = errno_status("cannot write", temp);
      ::close(fd);
      return status;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status status = errno_status("cannot flush", temp);
    ::close(fd);
    return status;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) return errno_status("cannot rename onto", path);
  // The rename itself reaches the disk with the directory.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return ok();
}

// Worker pool: the object's file, or an empty object when there is none yet.
Result<SharedObjectSnapshot> read_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return error(Errc::io, "cannot stat {}: {}", path, ec.message());
    return SharedObjectSnapshot{0, Value::object()};
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return error(Errc::io, "cannot stat {}: {}", path, ec.message());
  // A stored object never exceeds the limit by much (the header and slot counts); far beyond it is
  // not ours to load whole.
  if (size > max_bytes + 4096)
    return error(Errc::limit, "{}: {} bytes, more than max_object_bytes ({})", path, size, max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(Errc::io, "cannot open {}", path);
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) return error(Errc::io, "cannot read {}", path);
  auto snapshot = decode_object_file(bytes);
  if (!snapshot) return snapshot.error().with_context(path);
  return snapshot;
}

Value initial_slots() { return Value::object(); }

}  // namespace

// ---- the registry ----

void SharedObjectRegistry::add(const SharedObjectKey& key) {
  std::lock_guard lock(mutex_);
  keys_.emplace(SharedObjectsImpl::id_of(key), key);
}

void SharedObjectRegistry::remove(const SharedObjectKey& key) {
  std::lock_guard lock(mutex_);
  keys_.erase(SharedObjectsImpl::id_of(key));
}

std::vector<SharedObjectKey> SharedObjectRegistry::in_memory(std::string_view app) const {
  std::lock_guard lock(mutex_);
  std::vector<SharedObjectKey> keys;
  for (const auto& [id, key] : keys_)
    if (key.app == app) keys.push_back(key);
  return keys;
}

// ---- the owner's side ----

struct SharedObjectsImpl::OwnedObject {
  SharedObjectKey key;
  std::uint64_t version = 0;
  Value slots = initial_slots();
  std::uint64_t bytes = 0;                // slots as stored
  std::vector<std::uint8_t> subscribed;   // per group
  std::uint32_t subscriber_groups = 0;
  bool had_subscribers = false;           // a temporary object goes when its last one leaves
  bool loading = false;
  std::vector<ObjectRequest> waiting;     // requests that came while loading, in order
  std::vector<SharedObjectEvent> pending; // this turn's events
  bool in_changed_list = false;
  bool file_dirty = false;
  bool write_in_flight = false;
  bool write_again = false;
};

// ---- the subscriber's side ----

struct SharedObjectsImpl::LocalObject {
  SharedObjectKey key;
  std::string id;
  std::uint64_t serial = 0;
  bool synced = false;
  bool failed = false;
  Status failure;
  std::uint64_t version = 0;
  Value slots = initial_slots();
  std::vector<SubscriptionImpl*> subscribers;  // null while delivering: removed after the loop
  int delivering = 0;
};

class SharedObjectsImpl::SubscriptionImpl final : public SharedObjectSubscription {
 public:
  SubscriptionImpl(SharedObjectsImpl& objects, LocalObject& local, SharedObjectClientId id,
                   SharedObjectSubscriber& subscriber)
      : objects_(objects), key_(local.key), object_id_(local.id), id_(id), subscriber_(subscriber) {}
  ~SubscriptionImpl() override { objects_.unsubscribe(*this); }

  const SharedObjectKey& key() const noexcept override { return key_; }
  SharedObjectClientId id() const noexcept override { return id_; }
  const Value* get(std::string_view slot) const noexcept override {
    auto it = objects_.local_.find(object_id_);
    if (it == objects_.local_.end() || !it->second->synced) return nullptr;
    return it->second->slots.find(slot);
  }
  void set(std::string_view slot, Value value) noexcept override {
    ObjectRequest r{ObjectRequest::Op::set, key_, objects_.group().id(), 0, std::string(slot), std::move(value), id_, 0};
    objects_.request(std::move(r), {});
  }
  void remove(std::string_view slot) noexcept override {
    ObjectRequest r{ObjectRequest::Op::remove, key_, objects_.group().id(), 0, std::string(slot), Value(), id_, 0};
    objects_.request(std::move(r), {});
  }
  void send(std::string_view handler, std::vector<Value> args) noexcept override {
    ObjectRequest r{ObjectRequest::Op::send, key_, objects_.group().id(), 0, std::string(handler),
                    Value::array(std::move(args)), id_, 0};
    objects_.request(std::move(r), {});
  }

  const std::string& object_id() const noexcept { return object_id_; }
  SharedObjectSubscriber& subscriber() noexcept { return subscriber_; }
  bool initialized = false;  // has had its initial update (or its failure)

 private:
  SharedObjectsImpl& objects_;
  SharedObjectKey key_;
  std::string object_id_;
  SharedObjectClientId id_;
  SharedObjectSubscriber& subscriber_;
};

SharedObjectsImpl::SharedObjectsImpl(PollGroupImpl& group)
    : group_(group), logger_(&group.log_sink(), "kernel.shared_objects") {}

SharedObjectsImpl::~SharedObjectsImpl() {
  if (turn_requested_) group_.forget_turn_hook(*this);
  if (registry_)
    for (const auto& [id, object] : owned_) registry_->remove(object->key);
}

std::string SharedObjectsImpl::id_of(const SharedObjectKey& key) {
  std::string id;
  id.reserve(key.app.size() + key.name.size() + 3);
  id.append(key.app).push_back('\0');
  id.append(key.name).push_back('\0');
  id.push_back(key.persistent ? 'p' : 't');
  return id;
}

GroupId SharedObjectsImpl::owner_of(const SharedObjectKey& key) const noexcept {
  return static_cast<GroupId>(fnv1a(id_of(key)) % group_.group_count());
}

const SharedObjectSettings& SharedObjectsImpl::settings() const noexcept {
  static const SharedObjectSettings defaults;
  return registry_ ? registry_->settings() : defaults;
}

Status SharedObjectsImpl::check_name(std::string_view what, std::string_view name) const {
  if (name.empty()) return error(Errc::malformed, "empty {} name", what);
  if (name.size() > settings().max_name_bytes)
    return error(Errc::malformed, "{} name of {} bytes (limit {})", what, name.size(), settings().max_name_bytes);
  return ok();
}

std::string SharedObjectsImpl::path_of(const SharedObjectKey& key) const {
  return (std::filesystem::path(settings().directory) / escape_file_name(key.app) /
          (escape_file_name(key.name) + ".wso"))
      .string();
}

Result<std::unique_ptr<SharedObjectSubscription>> SharedObjectsImpl::subscribe(const SharedObjectKey& key,
                                                                               SharedObjectSubscriber& subscriber) noexcept {
  owner_.check();
  WEIR_TRY(check_name("application", key.app).with_context("shared object"));
  WEIR_TRY(check_name("shared object", key.name));
  std::string id = id_of(key);
  auto it = local_.find(id);
  if (it == local_.end()) {
    auto local = std::make_unique<LocalObject>();
    local->key = key;
    local->id = id;
    local->serial = next_serial_++;
    ObjectRequest r{ObjectRequest::Op::subscribe, key, group_.id(), local->serial, {}, Value(), 0, 0};
    it = local_.emplace(id, std::move(local)).first;
    request(std::move(r), {});
  }
  LocalObject& local = *it->second;
  SharedObjectClientId client = (std::uint64_t{group_.id()} + 1) << 40 | next_client_++;
  auto subscription = std::make_unique<SubscriptionImpl>(*this, local, client, subscriber);
  local.subscribers.push_back(subscription.get());
  clients_.emplace(client, subscription.get());
  if (local.synced || local.failed) {
    // The object is here already: its state (or failure) goes to the newcomer alone, after the
    // caller's subscribe() has returned.
    group_.defer([this, id, client] {
      auto c = clients_.find(client);
      auto l = local_.find(id);
      if (c == clients_.end() || l == local_.end() || c->second->initialized) return;
      SubscriptionImpl& s = *c->second;
      s.initialized = true;
      if (l->second->failed) {
        s.subscriber().on_failed(l->second->failure);
        return;
      }
      std::vector<SharedObjectEvent> events;
      events.push_back(SharedObjectEvent{SharedObjectEvent::Type::cleared, {}, Value(), 0});
      for (const auto& [name, value] : l->second->slots.members())
        events.push_back(SharedObjectEvent{SharedObjectEvent::Type::changed, name, value, 0});
      s.subscriber().on_update(SharedObjectUpdate{l->second->version, true, events});
    });
  }
  return std::unique_ptr<SharedObjectSubscription>(std::move(subscription));
}

void SharedObjectsImpl::unsubscribe(SubscriptionImpl& subscription) noexcept {
  owner_.check();
  clients_.erase(subscription.id());
  auto it = local_.find(subscription.object_id());
  if (it == local_.end()) return;
  LocalObject& local = *it->second;
  auto s = std::find(local.subscribers.begin(), local.subscribers.end(), &subscription);
  if (s == local.subscribers.end()) return;
  if (local.delivering) {
    *s = nullptr;  // compacted after the delivery loop
    return;
  }
  local.subscribers.erase(s);
  if (!local.subscribers.empty()) return;
  ObjectRequest r{ObjectRequest::Op::unsubscribe, local.key, group_.id(), local.serial, {}, Value(), 0, 0};
  local_.erase(it);
  request(std::move(r), {});
}

void SharedObjectsImpl::request(ObjectRequest r, SharedObjectDone done) {
  owner_.check();
  if (done) {
    r.token = next_token_++;
    done_.emplace(r.token, std::move(done));
  }
  GroupId owner = owner_of(r.key);
  group_.post(owner, std::make_unique<RequestTask>(std::move(r)));
}

void SharedObjectsImpl::set(const SharedObjectKey& key, std::string_view slot, Value value, SharedObjectDone done) noexcept {
  request(ObjectRequest{ObjectRequest::Op::set, key, group_.id(), 0, std::string(slot), std::move(value), 0, 0},
          std::move(done));
}

void SharedObjectsImpl::remove(const SharedObjectKey& key, std::string_view slot, SharedObjectDone done) noexcept {
  request(ObjectRequest{ObjectRequest::Op::remove, key, group_.id(), 0, std::string(slot), Value(), 0, 0},
          std::move(done));
}

void SharedObjectsImpl::clear(const SharedObjectKey& key, SharedObjectDone done) noexcept {
  request(ObjectRequest{ObjectRequest::Op::clear, key, group_.id(), 0, {}, Value(), 0, 0}, std::move(done));
}

void SharedObjectsImpl::send(const SharedObjectKey& key, std::string_view handler, std::vector<Value> args,
                             SharedObjectDone done) noexcept {
  request(ObjectRequest{ObjectRequest::Op::send, key, group_.id(), 0, std::string(handler),
                        Value::array(std::move(args)), 0, 0},
          std::move(done));
}

void SharedObjectsImpl::get(const SharedObjectKey& key, std::function<void(Result<SharedObjectSnapshot>)> done) noexcept {
  owner_.check();
  ObjectRequest r{ObjectRequest::Op::get, key, group_.id(), 0, {}, Value(), 0, next_token_++};
  get_done_.emplace(r.token, std::move(done));
  group_.post(owner_of(key), std::make_unique<RequestTask>(std::move(r)));
}

void SharedObjectsImpl::names(std::string_view app,
                              std::function<void(Result<std::vector<SharedObjectKey>>)> done) noexcept {
  owner_.check();
  auto found = std::make_shared<std::vector<SharedObjectKey>>(registry_ ? registry_->in_memory(app)
                                                                       : std::vector<SharedObjectKey>{});
  if (settings().directory.empty()) {
    group_.defer([found, done = std::move(done)] { done(std::move(*found)); });
    return;
  }
  std::string dir = (std::filesystem::path(settings().directory) / escape_file_name(app)).string();
  auto stored = std::make_shared<std::vector<SharedObjectKey>>();
  group_.run_blocking(
      [dir, app = std::string(app), stored]() -> Status {
        std::error_code ec;
        if (!std::filesystem::exists(dir, ec)) return ok();
        for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
             it.increment(ec)) {
          const auto& path = it->path();
          if (path.extension() != ".wso") continue;
          auto name = unescape_file_name(path.stem().string());
          if (name) stored->push_back(SharedObjectKey{app, std::move(*name), true});
        }
        if (ec) return error(Errc::io, "cannot list {}: {}", dir, ec.message());
        return ok();
      },
      [found, stored, done = std::move(done)](Status status) {
        if (!status) {
          done(std::move(status));
          return;
        }
        for (SharedObjectKey& key : *stored)
          if (std::find(found->begin(), found->end(), key) == found->end()) found->push_back(std::move(key));
        std::sort(found->begin(), found->end(), [](const SharedObjectKey& a, const SharedObjectKey& b) {
          return std::tie(a.name, a.persistent) < std::tie(b.name, b.persistent);
        });
        done(std::move(*found));
      });
}

// ---- owner: requests ----

SharedObjectsImpl::OwnedObject& SharedObjectsImpl::owned(const SharedObjectKey& key, const std::string& id) {
  auto object = std::make_unique<OwnedObject>();
  object->key = key;
  object->subscribed.assign(group_.group_count(), 0);
  OwnedObject& ref = *object;
  owned_.emplace(id, std::move(object));
  if (registry_) registry_->add(key);
  return ref;
}

void SharedObjectsImpl::on_request(ObjectRequest r) {
  owner_.check();
  std::string id = id_of(r.key);
  auto it = owned_.find(id);
  if (it == owned_.end()) {
    using Op = ObjectRequest::Op;
    bool creates = r.op == Op::subscribe || r.op == Op::set || r.key.persistent;
    if (r.op == Op::unsubscribe) return;
    if (!creates) {  // a temporary object nobody made: nothing to remove, clear or tell
      if (r.op == Op::get) group_.post(r.from, std::make_unique<GetDoneTask>(r.token, SharedObjectSnapshot{0, Value::object()}));
      else reply(r, ok());
      return;
    }
    Status valid = check_name("shared object", r.key.name);
    if (valid && r.key.persistent && settings().directory.empty())
      valid = error(Errc::unsupported, "persistent shared objects need [shared_objects] directory");
    if (!valid) {
      valid = std::move(valid).with_context("shared object " + r.key.to_string());
      if (r.op == Op::subscribe)
        group_.post(r.from, std::make_unique<ObjectSnapshotTask>(id, r.serial, valid));
      else if (r.op == Op::get)
        group_.post(r.from, std::make_unique<GetDoneTask>(r.token, valid));
      else
        reply(r, valid);
      return;
    }
    OwnedObject& object = owned(r.key, id);
    if (r.key.persistent) {
      object.loading = true;
      object.waiting.push_back(std::move(r));
      auto loaded = std::make_shared<Result<SharedObjectSnapshot>>(SharedObjectSnapshot{});
      group_.run_blocking(
          [loaded, path = path_of(object.key), max = settings().max_object_bytes]() -> Status {
            *loaded = read_file(path, max);
            return ok();
          },
          [this, id, loaded](Status) { on_loaded(id, std::move(*loaded)); });
      return;
    }
    it = owned_.find(id);
  }
  OwnedObject& object = *it->second;
  if (object.loading) {
    object.waiting.push_back(std::move(r));
    return;
  }
  apply(object, r);
  drop_if_unused(id);
}

void SharedObjectsImpl::on_loaded(const std::string& id, Result<SharedObjectSnapshot> loaded) {
  auto it = owned_.find(id);
  if (it == owned_.end()) return;
  OwnedObject& object = *it->second;
  object.loading = false;
  std::vector<ObjectRequest> waiting = std::move(object.waiting);
  object.waiting.clear();
  if (!loaded) {
    // A broken or unreadable file: the object is not used (nor overwritten); each request says why.
    Status why = loaded.error().with_context("shared object " + object.key.to_string());
    logger_.error("{}", why.message());
    for (ObjectRequest& r : waiting) {
      if (r.op == ObjectRequest::Op::subscribe)
        group_.post(r.from, std::make_unique<ObjectSnapshotTask>(id, r.serial, why));
      else if (r.op == ObjectRequest::Op::get)
        group_.post(r.from, std::make_unique<GetDoneTask>(r.token, why));
      else if (r.op != ObjectRequest::Op::unsubscribe)
        reply(r, why);
    }
    if (registry_) registry_->remove(object.key);
    owned_.erase(it);
    return;
  }
  object.version = loaded->version;
  object.slots = std::move(loaded->slots);
  object.bytes = 0;
  for (const auto& [name, value] : object.slots.members()) object.bytes += slot_size(name, value);
  logger_.debug("shared object {} loaded: {} slots, version {}", object.key.to_string(), object.slots.members().size(),
                object.version);
  for (ObjectRequest& r : waiting) apply(object, r);
  drop_if_unused(id);
}

void SharedObjectsImpl::apply(OwnedObject& object, ObjectRequest& r) {
  using Op = ObjectRequest::Op;
  using Type = SharedObjectEvent::Type;
  const SharedObjectSettings& limits = settings();
  switch (r.op) {
    case Op::subscribe: {
      flush(object);  // this turn's events go to the groups that have not got the snapshot below
      if (!object.subscribed[r.from]) ++object.subscriber_groups;
      object.subscribed[r.from] = 1;
      object.had_subscribers = true;
      group_.post(r.from, std::make_unique<ObjectSnapshotTask>(id_of(object.key), r.serial,
                                                               SharedObjectSnapshot{object.version, object.slots}));
      return;
    }
    case Op::unsubscribe:
      if (object.subscribed[r.from]) --object.subscriber_groups;
      object.subscribed[r.from] = 0;
      return;
    case Op::set: {
      Status valid = check_name("slot", r.slot);
      const Value* old = object.slots.find(r.slot);
      std::uint64_t bytes = object.bytes + slot_size(r.slot, r.value) - (old ? slot_size(r.slot, *old) : 0);
      if (!valid.is_ok()) {
        // named below
      } else if (nesting_depth(r.value) >= kMaxStoredDepth) {
        valid = error(Errc::limit, "slot '{}': values nested {} deep or more", r.slot, kMaxStoredDepth);
      } else if (!old && object.slots.members().size() >= limits.max_slots) {
        valid = error(Errc::limit, "{} slots already (max_slots)", object.slots.members().size());
      } else if (bytes > limits.max_object_bytes) {
        valid = error(Errc::limit, "slot '{}' would make the object {} bytes (max_object_bytes {})", r.slot, bytes,
                      limits.max_object_bytes);
      }
      if (!valid) {
        // This turn's events leave first, so that the asker hears of them before the refusal
        // (a client tells its own pending change from an earlier one by their order).
        flush(object);
        reply(r, std::move(valid).with_context("shared object " + object.key.to_string()), old ? *old : Value());
        return;
      }
      object.bytes = bytes;
      object.slots.set(r.slot, r.value);
      ++object.version;
      object.pending.push_back(SharedObjectEvent{Type::changed, r.slot, std::move(r.value), r.origin});
      object.file_dirty = true;
      changed(object);
      reply(r, ok());
      return;
    }
    case Op::remove: {
      Members& slots = *object.slots.mutable_members();
      auto it = std::find_if(slots.begin(), slots.end(), [&](const auto& m) { return m.first == r.slot; });
      if (it != slots.end()) {
        object.bytes -= slot_size(it->first, it->second);
        slots.erase(it);
        ++object.version;
        object.pending.push_back(SharedObjectEvent{Type::removed, r.slot, Value(), r.origin});
        object.file_dirty = true;
        changed(object);
      }
      reply(r, ok());
      return;
    }
    case Op::clear:
      if (!object.slots.members().empty()) {
        object.slots = initial_slots();
        object.bytes = 0;
        ++object.version;
        object.pending.push_back(SharedObjectEvent{Type::cleared, {}, Value(), r.origin});
        object.file_dirty = true;
        changed(object);
      }
      reply(r, ok());
      return;
    case Op::send: {
      Status valid = check_name("handler", r.slot);
      if (valid && nesting_depth(r.value) >= kMaxStoredDepth)
        valid = error(Errc::limit, "a message nested {} deep or more", kMaxStoredDepth);
      if (valid && stored_size(r.value) > limits.max_object_bytes)
        valid = error(Errc::limit, "a message of {} bytes (max_object_bytes {})", stored_size(r.value),
                      limits.max_object_bytes);
      if (!valid) {
        flush(object);  // in order with this turn's events, as for set
        reply(r, std::move(valid).with_context("shared object " + object.key.to_string()));
        return;
      }
      object.pending.push_back(SharedObjectEvent{Type::message, r.slot, std::move(r.value), r.origin});
      changed(object);
      reply(r, ok());
      return;
    }
    case Op::get:
      group_.post(r.from, std::make_unique<GetDoneTask>(r.token, SharedObjectSnapshot{object.version, object.slots}));
      return;
  }
}

void SharedObjectsImpl::reply(const ObjectRequest& r, Status status, const Value& current) {
  if (r.token == 0 && (status.is_ok() || r.origin == 0)) return;
  group_.post(r.from, std::make_unique<RequestDoneTask>(r.token, r.origin, r.slot, std::move(status), current));
}

void SharedObjectsImpl::changed(OwnedObject& object) {
  if (!object.in_changed_list) {
    object.in_changed_list = true;
    changed_.push_back(id_of(object.key));
  }
  if (!turn_requested_) {
    turn_requested_ = true;
    group_.request_end_of_turn(*this);
  }
}

void SharedObjectsImpl::on_end_of_turn() noexcept {
  turn_requested_ = false;
  std::vector<std::string> ids;
  ids.swap(changed_);
  for (const std::string& id : ids) {
    auto it = owned_.find(id);
    if (it == owned_.end()) continue;
    it->second->in_changed_list = false;
    flush(*it->second);
    drop_if_unused(id);
  }
}

void SharedObjectsImpl::flush(OwnedObject& object) {
  if (!object.pending.empty()) {
    auto batch = std::make_shared<SharedObjectBatch>();
    batch->version = object.version;
    batch->events = std::move(object.pending);
    object.pending.clear();
    std::string id = id_of(object.key);
    for (GroupId g = 0; g < object.subscribed.size(); ++g)
      if (object.subscribed[g]) group_.post(g, std::make_unique<ObjectUpdatedTask>(id, batch));
  }
  if (object.key.persistent && object.file_dirty) write(object);
}

void SharedObjectsImpl::write(OwnedObject& object) {
  if (object.write_in_flight) {
    object.write_again = true;  // one more write when this one is done, with all changes since
    return;
  }
  object.file_dirty = false;
  object.write_in_flight = true;
  object.write_again = false;
  std::string id = id_of(object.key);
  group_.run_blocking(
      [path = path_of(object.key), bytes = encode_object_file(SharedObjectSnapshot{object.version, object.slots})] {
        return write_file(path, bytes);
      },
      [this, id](Status status) {
        auto it = owned_.find(id);
        if (it == owned_.end()) return;
        OwnedObject& written = *it->second;
        written.write_in_flight = false;
        if (!status) logger_.error("shared object {}: {}", written.key.to_string(), status.message());
        if (written.write_again) {
          written.file_dirty = true;
          write(written);
          return;
        }
        drop_if_unused(id);
      });
}

void SharedObjectsImpl::drop_if_unused(const std::string& id) {
  auto it = owned_.find(id);
  if (it == owned_.end()) return;
  const OwnedObject& object = *it->second;
  if (object.subscriber_groups > 0 || object.loading || object.in_changed_list || !object.pending.empty() ||
      object.write_in_flight || (object.key.persistent && object.file_dirty))
    return;
  // A temporary object made by a server-side set lives until a subscriber has come and gone.
  if (!object.key.persistent && !object.had_subscribers) return;
  if (registry_) registry_->remove(object.key);
  owned_.erase(it);
}

// ---- subscriber side ----

void SharedObjectsImpl::on_snapshot(const std::string& id, std::uint64_t serial, Result<SharedObjectSnapshot> snapshot) {
  owner_.check();
  auto it = local_.find(id);
  if (it == local_.end() || it->second->serial != serial) return;  // for a local object gone since
  LocalObject& local = *it->second;
  if (!snapshot) {
    local.failed = true;
    local.failure = snapshot.error();
    ++local.delivering;
    for (std::size_t i = 0, n = local.subscribers.size(); i < n; ++i) {
      SubscriptionImpl* s = local.subscribers[i];
      if (!s || s->initialized) continue;
      s->initialized = true;
      s->subscriber().on_failed(local.failure);
    }
    --local.delivering;
    std::erase(local.subscribers, nullptr);
    if (local.subscribers.empty()) {
      ObjectRequest r{ObjectRequest::Op::unsubscribe, local.key, group_.id(), local.serial, {}, Value(), 0, 0};
      local_.erase(it);
      request(std::move(r), {});
    }
    return;
  }
  local.synced = true;
  local.version = snapshot->version;
  local.slots = std::move(snapshot->slots);
  std::vector<SharedObjectEvent> events;
  events.push_back(SharedObjectEvent{SharedObjectEvent::Type::cleared, {}, Value(), 0});
  for (const auto& [name, value] : local.slots.members())
    events.push_back(SharedObjectEvent{SharedObjectEvent::Type::changed, name, value, 0});
  deliver(local, SharedObjectUpdate{local.version, true, events});
}

void SharedObjectsImpl::on_updated(const std::string& id, const std::shared_ptr<const SharedObjectBatch>& batch) {
  owner_.check();
  auto it = local_.find(id);
  if (it == local_.end() || !it->second->synced) return;  // before the snapshot: it has these already
  LocalObject& local = *it->second;
  for (const SharedObjectEvent& e : batch->events) {
    switch (e.type) {
      case SharedObjectEvent::Type::changed: local.slots.set(e.name, e.value); break;
      case SharedObjectEvent::Type::removed:
        std::erase_if(*local.slots.mutable_members(), [&](const auto& m) { return m.first == e.name; });
        break;
      case SharedObjectEvent::Type::cleared: local.slots = initial_slots(); break;
      case SharedObjectEvent::Type::message: break;
    }
  }
  local.version = batch->version;
  deliver(local, SharedObjectUpdate{batch->version, false, batch->events});
}

void SharedObjectsImpl::deliver(LocalObject& local, const SharedObjectUpdate& update, SubscriptionImpl*) {
  // Subscribers may unsubscribe (or subscribe others) from inside on_update: indices, not
  // iterators, and removals leave nulls until the loop is done.
  ++local.delivering;
  for (std::size_t i = 0, n = local.subscribers.size(); i < n; ++i) {
    SubscriptionImpl* s = local.subscribers[i];
    if (!s) continue;
    if (update.is_initial) {
      if (s->initialized) continue;
      s->initialized = true;
    } else if (!s->initialized) {
      continue;  // its initial update (deferred) already holds this state
    }
    s->subscriber().on_update(update);
  }
  --local.delivering;
  if (local.delivering) return;
  std::erase(local.subscribers, nullptr);
  if (local.subscribers.empty()) {
    ObjectRequest r{ObjectRequest::Op::unsubscribe, local.key, group_.id(), local.serial, {}, Value(), 0, 0};
    std::string id = local.id;  // erasing by a key that lives in the erased entry would read freed memory
    local_.erase(id);
    request(std::move(r), {});
  }
}

void SharedObjectsImpl::on_request_done(std::uint64_t token, SharedObjectClientId origin, const std::string& slot,
                                        Status status, const Value& current) {
  owner_.check();
  if (!status && origin) {
    auto c = clients_.find(origin);
    if (c != clients_.end()) c->second->subscriber().on_refused(slot, current, status);
  }
  if (token) {
    auto it = done_.find(token);
    if (it == done_.end()) return;
    SharedObjectDone done = std::move(it->second);
    done_.erase(it);
    done(std::move(status));
  }
}

void SharedObjectsImpl::on_get_done(std::uint64_t token, Result<SharedObjectSnapshot> snapshot) {
  owner_.check();
  auto it = get_done_.find(token);
  if (it == get_done_.end()) return;
  auto done = std::move(it->second);
  get_done_.erase(it);
  done(std::move(snapshot));
}

}  // namespace weir::kernel
