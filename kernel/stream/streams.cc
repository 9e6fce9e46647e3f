// SPDX-License-Identifier: Apache-2.0
#include "stream/streams.h"

#include <algorithm>

namespace weir::kernel {
namespace {

StreamsImpl& here() { return PollGroupImpl::current()->streams_impl(); }

// Messages between groups (see streams.h for the flow).
struct TapAdded final : Task {
  TapAdded(StreamId id, GroupId group) : id(id), group(group) {}
  void run() noexcept override { here().on_tap_added(id, group); }
  StreamId id;
  GroupId group;
};
struct TapRemoved final : Task {
  TapRemoved(StreamId id, GroupId group) : id(id), group(group) {}
  void run() noexcept override { here().on_tap_removed(id, group); }
  StreamId id;
  GroupId group;
};
struct StreamStarted final : Task {
  StreamStarted(StreamId id, std::uint64_t epoch, std::vector<MediaFrame> snapshot)
      : id(id), epoch(epoch), snapshot(std::move(snapshot)) {}
  void run() noexcept override { here().on_stream_started(id, epoch, std::move(snapshot)); }
  StreamId id;
  std::uint64_t epoch;
  std::vector<MediaFrame> snapshot;
};
struct FramesPublished final : Task {
  FramesPublished(StreamId id, std::uint64_t epoch, FrameBatch batch) : id(id), epoch(epoch), batch(std::move(batch)) {}
  void run() noexcept override { here().on_frames(id, epoch, batch); }
  StreamId id;
  std::uint64_t epoch;
  FrameBatch batch;  // one immutable batch shared by every subscriber group
};
struct StreamStopped final : Task {
  StreamStopped(StreamId id, std::uint64_t epoch) : id(id), epoch(epoch) {}
  void run() noexcept override { here().on_stream_stopped(id, epoch); }
  StreamId id;
  std::uint64_t epoch;
};

struct NoSubscribers final : Task {  // a subscriber's group -> the publisher's: the count fell to 0
  explicit NoSubscribers(StreamId id) : id(id) {}
  void run() noexcept override { here().on_no_subscribers(id); }
  StreamId id;
};

}  // namespace

// One stream's local subscribers on one group, and its copy of the cache for late joiners.
class Tap {
 public:
  /// `joined_live`: the stream was published when this tap was made, so its first start is a
  /// join (the cache replay), not an event to announce.
  Tap(StreamsImpl& streams, StreamId id, StreamKey key, bool joined_live)
      : streams_(streams), id_(id), key_(std::move(key)), joined_live_(joined_live) {}

  const StreamKey& key() const noexcept { return key_; }
  bool is_started() const noexcept { return started_; }
  bool empty() const noexcept { return count_ == 0; }

  void add(StreamSubscriber& subscriber) {
    subscribers_.push_back(&subscriber);
    ++count_;
    if (!started_ || cache_.empty()) return;
    // Replay the cache to the newcomer alone, after the caller's subscribe() has returned.
    streams_.group().defer([&streams = streams_, id = id_, target = &subscriber, frames = cache_.snapshot()] {
      Tap* tap = streams.find_tap(id);
      if (tap && tap->contains(target)) target->on_frames(frames);
    });
  }
  void remove(StreamSubscriber& subscriber) {
    auto it = std::find(subscribers_.begin(), subscribers_.end(), &subscriber);
    if (it == subscribers_.end()) return;
    --count_;
    if (delivering_) *it = nullptr;  // compacted after the delivery loop
    else subscribers_.erase(it);
  }
  bool contains(StreamSubscriber* subscriber) const {
    return std::find(subscribers_.begin(), subscribers_.end(), subscriber) != subscribers_.end();
  }

  void started(std::uint64_t epoch, std::vector<MediaFrame> snapshot) {
    if (epoch < epoch_) return;  // a stale message from an earlier publisher
    epoch_ = epoch;
    bool resumed = grace_timer_ != nullptr;
    grace_timer_.reset();
    started_ = true;
    cache_.clear();
    for (const MediaFrame& frame : snapshot) cache_.add(frame);
    // `published` announces a transition; subscribers who joined a live stream just get frames.
    if (!resumed && !joined_live_) each([](StreamSubscriber& s) { s.on_stream_event(StreamEvent::published); });
    joined_live_ = false;
    if (!snapshot.empty()) each([&](StreamSubscriber& s) { s.on_frames(snapshot); });
  }
  void frames(std::uint64_t epoch, const std::vector<MediaFrame>& batch) {
    if (!started_ || epoch != epoch_) return;
    for (const MediaFrame& frame : batch) cache_.add(frame);
    each([&](StreamSubscriber& s) { s.on_frames(batch); });
  }
  void stopped(std::uint64_t epoch) {
    if (epoch != epoch_ || !started_) return;
    started_ = false;
    cache_.clear();
    auto grace = streams_.settings().publisher_grace;
    if (grace.count() == 0) {
      each([](StreamSubscriber& s) { s.on_stream_event(StreamEvent::unpublished); });
      return;
    }
    // Players stay; a publisher that returns within the grace period resumes to them.
    grace_timer_ = streams_.group().after(grace, [&streams = streams_, id = id_] {
      if (Tap* tap = streams.find_tap(id)) tap->grace_expired();
    });
  }
  void grace_expired() {
    grace_timer_.reset();
    each([](StreamSubscriber& s) { s.on_stream_event(StreamEvent::unpublished); });
  }

 private:
  template <class Fn>
  void each(Fn&& fn) {
    ++delivering_;
    for (std::size_t i = 0; i < subscribers_.size(); ++i)  // subscribers may leave meanwhile
      if (subscribers_[i]) fn(*subscribers_[i]);
    if (--delivering_ == 0) std::erase(subscribers_, nullptr);
  }

  StreamsImpl& streams_;
  const StreamId id_;
  const StreamKey key_;
  std::vector<StreamSubscriber*> subscribers_;
  std::size_t count_ = 0;
  int delivering_ = 0;
  bool started_ = false;
  bool joined_live_;
  std::uint64_t epoch_ = 0;
  GopCache cache_;
  std::unique_ptr<Timer> grace_timer_;
};

class PublicationImpl final : public Publication, public TurnHook {
 public:
  PublicationImpl(StreamsImpl& streams, StreamRegistry::Claim claim, StreamKey key, PublishOptions options)
      : streams_(streams), id_(claim.id), epoch_(claim.epoch), key_(std::move(key)), options_(options),
        tap_groups_(streams.group().group_count(), false) {
    for (GroupId g : claim.tap_groups) {
      tap_groups_[g] = true;
      send_started(g, {});
    }
  }
  ~PublicationImpl() override {
    on_end_of_turn();  // what was pushed this turn still goes out
    streams_.group().forget_turn_hook(*this);
    for (GroupId g = 0; g < tap_groups_.size(); ++g) {
      if (!tap_groups_[g]) continue;
      if (g == streams_.group().id()) streams_.on_stream_stopped(id_, epoch_);
      else streams_.group().post(g, std::make_unique<StreamStopped>(id_, epoch_));
    }
    streams_.forget_publication(id_);
    streams_.registry().release(id_);
  }

  void push(MediaFrame frame) noexcept override {
    owner_.check();
    if (options_.gop_cache) cache_.add(frame);
    pending_.push_back(std::move(frame));
    if (!hook_requested_) {
      hook_requested_ = true;
      streams_.group().request_end_of_turn(*this);
    }
  }
  const StreamKey& key() const noexcept override { return key_; }
  std::uint64_t subscriber_count() const noexcept override { return streams_.registry().subscribers(id_); }

  void on_end_of_turn() noexcept override {
    hook_requested_ = false;
    if (pending_.empty()) return;
    FrameBatch batch = std::make_shared<const std::vector<MediaFrame>>(std::move(pending_));
    pending_.clear();
    for (GroupId g = 0; g < tap_groups_.size(); ++g) {
      if (!tap_groups_[g]) continue;
      if (g == streams_.group().id()) streams_.on_frames(id_, epoch_, batch);
      else streams_.group().post(g, std::make_unique<FramesPublished>(id_, epoch_, batch));
    }
  }

  void tap_added(GroupId g) {
    on_end_of_turn();  // frames already pushed are in the cache: send them first, then the snapshot
    tap_groups_[g] = true;
    send_started(g, cache_.snapshot());
  }
  void tap_removed(GroupId g) { tap_groups_[g] = false; }

  void on_no_subscribers(std::function<void()> fn) noexcept override {
    owner_.check();
    on_no_subscribers_ = std::move(fn);
  }
  void no_subscribers() {
    // Someone may have subscribed since the count fell to 0 on the other group.
    if (!on_no_subscribers_ || streams_.registry().subscribers(id_) != 0) return;
    auto fn = on_no_subscribers_;  // a copy: fn may destroy this publication
    fn();
  }

 private:
  void send_started(GroupId g, std::vector<MediaFrame> snapshot) {
    if (g == streams_.group().id()) streams_.on_stream_started(id_, epoch_, std::move(snapshot));
    else streams_.group().post(g, std::make_unique<StreamStarted>(id_, epoch_, std::move(snapshot)));
  }

  ThreadOwner owner_;
  StreamsImpl& streams_;
  const StreamId id_;
  const std::uint64_t epoch_;
  const StreamKey key_;
  const PublishOptions options_;
  std::vector<bool> tap_groups_;
  GopCache cache_;
  std::vector<MediaFrame> pending_;
  bool hook_requested_ = false;
  std::function<void()> on_no_subscribers_;
};

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(StreamsImpl& streams, StreamId id, StreamKey key, StreamSubscriber& subscriber)
      : streams_(streams), id_(id), key_(std::move(key)), subscriber_(subscriber) {}
  ~SubscriptionImpl() override { streams_.unsubscribe(id_, subscriber_); }
  const StreamKey& key() const noexcept override { return key_; }
  bool is_published() const noexcept override {
    Tap* tap = streams_.find_tap(id_);
    return tap && tap->is_started();
  }

 private:
  StreamsImpl& streams_;
  const StreamId id_;
  const StreamKey key_;
  StreamSubscriber& subscriber_;
};

StreamsImpl::StreamsImpl(PollGroupImpl& group) : group_(group) {}

StreamsImpl::~StreamsImpl() = default;

void StreamsImpl::attach(StreamRegistry& registry, const StreamSettings& settings) {
  registry_ = &registry;
  settings_ = settings;
}

Result<std::unique_ptr<Publication>> StreamsImpl::publish(const StreamKey& key, PublishOptions options) noexcept {
  owner_.check();
  auto claim = registry_->claim(key, group_.id());
  if (!claim) return claim.error();
  auto publication = std::make_unique<PublicationImpl>(*this, *claim, key, options);
  publications_[claim->id] = publication.get();
  group_.logger().info("stream={} published", key.to_string());
  return std::unique_ptr<Publication>(std::move(publication));
}

Result<std::unique_ptr<Subscription>> StreamsImpl::subscribe(const StreamKey& key, StreamSubscriber& subscriber,
                                                             SubscribeOptions options) noexcept {
  owner_.check();
  if (!options.wait_for_publisher && !registry_->is_published(key))
    return error(Errc::not_found, "stream {} is not published", key.to_string());
  std::string text = key.to_string();
  StreamId id;
  auto known = tap_ids_.find(text);
  if (known != tap_ids_.end()) {
    id = known->second;
  } else {
    StreamRegistry::TapInfo info = registry_->add_tap(key, group_.id());
    id = info.id;
    tap_ids_[text] = id;
    taps_[id] = std::make_unique<Tap>(*this, id, key, info.publisher.has_value());
    if (info.publisher) {
      if (*info.publisher == group_.id()) on_tap_added(id, group_.id());
      else group_.post(*info.publisher, std::make_unique<TapAdded>(id, group_.id()));
    }
  }
  taps_[id]->add(subscriber);
  registry_->count_subscribers(id, +1);
  return std::unique_ptr<Subscription>(std::make_unique<SubscriptionImpl>(*this, id, key, subscriber));
}

void StreamsImpl::release_all() noexcept {
  taps_.clear();
  tap_ids_.clear();
}

bool StreamsImpl::is_published(const StreamKey& key) const noexcept { return registry_->is_published(key); }

Tap* StreamsImpl::find_tap(StreamId id) {
  auto it = taps_.find(id);
  return it == taps_.end() ? nullptr : it->second.get();
}

void StreamsImpl::unsubscribe(StreamId id, StreamSubscriber& subscriber) {
  Tap* tap = find_tap(id);
  if (!tap) return;
  tap->remove(subscriber);
  if (auto publisher = registry_->count_subscribers(id, -1)) {
    // Deferred on this group too: we may be inside a delivery or a module's destructor.
    if (*publisher == group_.id()) group_.defer([this, id] { on_no_subscribers(id); });
    else group_.post(*publisher, std::make_unique<NoSubscribers>(id));
  }
  if (tap->empty()) {
    // Not now: we may be inside this tap's delivery loop.
    group_.defer([this, id] { release_tap_if_unused(id); });
  }
}

void StreamsImpl::release_tap_if_unused(StreamId id) {
  Tap* tap = find_tap(id);
  if (!tap || !tap->empty()) return;
  tap_ids_.erase(tap->key().to_string());
  taps_.erase(id);
  if (auto publisher = registry_->remove_tap(id, group_.id())) {
    if (*publisher == group_.id()) on_tap_removed(id, group_.id());
    else group_.post(*publisher, std::make_unique<TapRemoved>(id, group_.id()));
  }
}

void StreamsImpl::on_tap_added(StreamId id, GroupId tap_group) {
  auto it = publications_.find(id);
  if (it != publications_.end()) it->second->tap_added(tap_group);
}

void StreamsImpl::on_tap_removed(StreamId id, GroupId tap_group) {
  auto it = publications_.find(id);
  if (it != publications_.end()) it->second->tap_removed(tap_group);
}

void StreamsImpl::on_no_subscribers(StreamId id) {
  auto it = publications_.find(id);
  if (it != publications_.end()) it->second->no_subscribers();
}

void StreamsImpl::on_stream_started(StreamId id, std::uint64_t epoch, std::vector<MediaFrame> snapshot) {
  if (Tap* tap = find_tap(id)) tap->started(epoch, std::move(snapshot));
}

void StreamsImpl::on_frames(StreamId id, std::uint64_t epoch, const FrameBatch& batch) {
  if (Tap* tap = find_tap(id)) tap->frames(epoch, *batch);
}

void StreamsImpl::on_stream_stopped(StreamId id, std::uint64_t epoch) {
  if (Tap* tap = find_tap(id)) tap->stopped(epoch);
}

}  // namespace weir::kernel
