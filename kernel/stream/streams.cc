// SPDX-License-Identifier: Apache-2.0
#include "stream/streams.h"

#include "poll_group/gather.h"
#include "stats/stats.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace weir::kernel {
namespace {

StreamsImpl& here() { return PollGroupImpl::current()->streams_impl(); }

// "rtsp://cam/x" of "rtsp://user:secret@cam/x": a URL for a message, without its password.
std::string without_userinfo(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const std::size_t start = scheme + 3;
  const std::size_t at = url.find('@', start);
  if (at == std::string_view::npos || at > url.find('/', start)) return std::string(url);
  return std::string(url.substr(0, start)).append(url.substr(at + 1));
}

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
  StreamStarted(StreamId id, std::uint64_t epoch, GroupId publisher, std::vector<MediaFrame> snapshot)
      : id(id), epoch(epoch), publisher(publisher), snapshot(std::move(snapshot)) {}
  void run() noexcept override { here().on_stream_started(id, epoch, publisher, std::move(snapshot)); }
  StreamId id;
  std::uint64_t epoch;
  GroupId publisher;  // where the tap reports its subscriber count from now on
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

// Streams::stop(): to the publisher's group and back.
struct StopReply final : Task {
  std::shared_ptr<std::function<void(Status)>> done;  // only the requesting group touches it
  Status status;
  void run() noexcept override { (*done)(std::move(status)); }
};

struct StopRequest final : Task {
  StreamKey key;
  Status reason;
  GroupId reply_to = 0;
  std::shared_ptr<std::function<void(Status)>> done;
  void run() noexcept override {
    auto reply = std::make_unique<StopReply>();
    reply->done = std::move(done);
    reply->status = here().stop_local(key, reason);
    PollGroupImpl::current()->post(reply_to, std::move(reply));
  }
};

// A tap's group -> the publisher's: how many subscribers the tap has now, sent at the end of a
// turn in which the count changed (one message for a turn's joins and leaves, however many).
struct SubscribersCounted final : Task {
  SubscribersCounted(StreamId id, GroupId group, std::uint64_t count, bool fell_to_zero)
      : id(id), group(group), count(count), fell_to_zero(fell_to_zero) {}
  void run() noexcept override { here().on_subscribers_counted(id, group, count, fell_to_zero); }
  StreamId id;
  GroupId group;
  std::uint64_t count;
  bool fell_to_zero;  // the tap's count reached 0 during the turn (a join and leave may net 0)
};

}  // namespace

// One stream's local subscribers on one group, and its copy of the cache for late joiners.
//
//   add() --> joiners_ (started, cache not empty) --replay_joiners()--> subscribers_ <-- frames()
//             deferred after subscribe() returns, and run first by any frames(), started(),
//             stopped() that comes sooner: a joiner's first frames are always the cache replay
//
// Its subscriber count goes to the publisher's group at the end of a turn in which it changed.
class Tap final : public TurnHook {
 public:
  /// `publisher`: the group publishing the stream when this tap was made, if any; then its first
  /// start is a join (the cache replay), not an event to announce.
  Tap(StreamsImpl& streams, StreamId id, StreamKey key, std::optional<GroupId> publisher)
      : streams_(streams), id_(id), key_(std::move(key)), publisher_(publisher), joined_live_(publisher.has_value()) {}
  ~Tap() { streams_.group().forget_turn_hook(*this); }
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  const StreamKey& key() const noexcept { return key_; }
  bool is_started() const noexcept { return started_; }
  /// Started by publication `epoch`: its batches may come straight from it, in order.
  bool is_current(std::uint64_t epoch) const noexcept { return started_ && epoch_ == epoch; }
  bool empty() const noexcept { return count_ == 0; }

  void add(StreamSubscriber& subscriber, const std::string& protocol) {
    ++count_;
    ++by_protocol_[protocol];
    count_changed();
    if (!started_ || cache_.empty()) {
      subscribers_.push_back(&subscriber);
      return;
    }
    // The newcomer waits for its replay, after the caller's subscribe() has returned; one
    // replay (one snapshot) serves every newcomer of the turn.
    joiners_.push_back(&subscriber);
    if (replay_scheduled_) return;
    replay_scheduled_ = true;
    streams_.group().defer([&streams = streams_, id = id_] {
      if (Tap* tap = streams.find_tap(id)) {
        tap->replay_scheduled_ = false;
        tap->replay_joiners();
      }
    });
  }
  void remove(StreamSubscriber& subscriber, const std::string& protocol) {
    if (!take_out(subscribers_, subscriber, delivering_ > 0) && !take_out(joiners_, subscriber, replaying_)) return;
    --count_;
    if (count_ == 0) fell_to_zero_ = true;
    count_changed();
    if (auto counted = by_protocol_.find(protocol); counted != by_protocol_.end() && --counted->second == 0)
      by_protocol_.erase(counted);
  }

  void started(std::uint64_t epoch, GroupId publisher, std::vector<MediaFrame> snapshot) {
    if (epoch < epoch_) return;  // a stale message from an earlier publisher
    if (started_ && epoch == epoch_) return;  // this publication started this tap already
    replay_joiners();
    epoch_ = epoch;
    publisher_ = publisher;
    count_changed();  // a new publisher learns this group's count
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
    replay_joiners();  // the cache as it was before this batch, then the batch
    for (const MediaFrame& frame : batch) cache_.add(frame);
    each([&](StreamSubscriber& s) { s.on_frames(batch); });
  }
  void stopped(std::uint64_t epoch) {
    if (epoch != epoch_ || !started_) return;
    replay_joiners();
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
  /// Subscriptions report what they delivered; a leaving one leaves its counts behind.
  void attach(const Subscription& subscription) { subscriptions_.push_back(&subscription); }
  void detach(const Subscription& subscription) {
    auto it = std::find(subscriptions_.begin(), subscriptions_.end(), &subscription);
    if (it == subscriptions_.end()) return;
    departed_.bytes_sent += subscription.delivered().bytes_sent;
    departed_.frames_dropped += subscription.delivered().frames_dropped;
    subscriptions_.erase(it);
  }
  /// This group's deliveries of the stream, for Streams::collect(): read once a sample, so the
  /// media path only ever adds to its own subscription's fields.
  DeliveryCounts delivered() const noexcept {
    DeliveryCounts sum = departed_;
    for (const Subscription* s : subscriptions_) {
      sum.bytes_sent += s->delivered().bytes_sent;
      sum.frames_dropped += s->delivered().frames_dropped;
    }
    return sum;
  }
  /// This group's players by protocol, for Streams::collect().
  const std::map<std::string, std::uint64_t>& players_by_protocol() const noexcept { return by_protocol_; }
  std::size_t player_count() const noexcept { return count_; }

  void grace_expired() {
    grace_timer_.reset();
    each([](StreamSubscriber& s) { s.on_stream_event(StreamEvent::unpublished); });
  }

  /// End of a turn in which the count changed: the publisher's group hears the new count.
  void on_end_of_turn() noexcept override {
    report_requested_ = false;
    bool fell_to_zero = std::exchange(fell_to_zero_, false);
    if (publisher_) streams_.report_subscribers(*publisher_, id_, count_, fell_to_zero);
  }

 private:
  void count_changed() {
    if (report_requested_) return;
    report_requested_ = true;
    streams_.group().request_end_of_turn(*this);
  }

  // Moves the newcomers into subscribers_ after replaying the cache to them, one snapshot for all.
  void replay_joiners() {
    if (joiners_.empty() || replaying_) return;
    replaying_ = true;
    std::vector<MediaFrame> snapshot;
    bool have_snapshot = false;
    for (std::size_t i = 0; i < joiners_.size(); ++i) {  // joiners may come or leave meanwhile
      StreamSubscriber* joiner = std::exchange(joiners_[i], nullptr);
      if (!joiner) continue;
      subscribers_.push_back(joiner);
      if (!started_ || cache_.empty()) continue;
      if (!have_snapshot) {
        snapshot = cache_.snapshot();
        have_snapshot = true;
      }
      joiner->on_frames(snapshot);
    }
    joiners_.clear();
    replaying_ = false;
  }

  // Removes `subscriber` from `list` (blanks its slot while the list is being walked).
  static bool take_out(std::vector<StreamSubscriber*>& list, StreamSubscriber& subscriber, bool walking) {
    auto it = std::find(list.begin(), list.end(), &subscriber);
    if (it == list.end()) return false;
    if (walking) *it = nullptr;  // compacted after the walk
    else list.erase(it);
    return true;
  }

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
  std::vector<StreamSubscriber*> joiners_;  // in count_, waiting for their cache replay
  std::size_t count_ = 0;
  std::map<std::string, std::uint64_t> by_protocol_;  // statistics only; touched on join and leave
  std::vector<const Subscription*> subscriptions_;  // statistics only: their delivery counts
  DeliveryCounts departed_;                           // what subscriptions that left delivered
  int delivering_ = 0;
  bool replaying_ = false;
  bool replay_scheduled_ = false;
  bool report_requested_ = false;
  bool fell_to_zero_ = false;
  std::optional<GroupId> publisher_;  // where the subscriber count goes
  bool started_ = false;
  bool joined_live_;
  std::uint64_t epoch_ = 0;
  GopCache cache_;
  std::unique_ptr<Timer> grace_timer_;
};

class PublicationImpl final : public Publication, public TurnHook {
 public:
  PublicationImpl(StreamsImpl& streams, StreamRegistry::Claim claim, StreamKey key, PublishOptions options)
      : streams_(streams), id_(claim.id), epoch_(claim.epoch), key_(std::move(key)), options_(std::move(options)),
        tap_groups_(streams.group().group_count(), false), subscribers_(streams.group().group_count(), 0),
        published_at_(streams.group().now()) {
    // Waiting taps hear of it by message, this group's too: publish() is a module's call, and
    // this start must reach the tap after the stop of a publication that ended in the same call.
    for (GroupId g : claim.tap_groups) {
      tap_groups_[g] = true;
      streams_.group().post(g, std::make_unique<StreamStarted>(id_, epoch_, streams_.group().id(), std::vector<MediaFrame>{}));
    }
  }
  ~PublicationImpl() override {
    // A module ends a publication from its own calls (a session closing, perhaps inside one of
    // its players' deliveries), so nothing here calls a subscriber: what was pushed this turn and
    // the stop go to every tap by message, this group's included, in that order.
    streams_.group().forget_turn_hook(*this);
    FrameBatch batch = take_pending();
    for (GroupId g = 0; g < tap_groups_.size(); ++g) {
      if (!tap_groups_[g]) continue;
      if (batch) streams_.group().post(g, std::make_unique<FramesPublished>(id_, epoch_, batch));
      streams_.group().post(g, std::make_unique<StreamStopped>(id_, epoch_));
    }
    streams_.forget_publication(id_);
    streams_.registry().release(id_);
  }

  void push(MediaFrame frame) noexcept override {
    owner_.check();
    count(frame);
    if (options_.gop_cache) cache_.add(frame);
    pending_.push_back(std::move(frame));
    if (!hook_requested_) {
      hook_requested_ = true;
      streams_.group().request_end_of_turn(*this);
    }
  }
  const StreamKey& key() const noexcept override { return key_; }
  std::uint64_t subscriber_count() const noexcept override { return subscriber_total_; }

  void on_end_of_turn() noexcept override {
    hook_requested_ = false;
    FrameBatch batch = take_pending();
    if (batch && send_batch(batch)) deliver_here(streams_, id_, epoch_, batch);  // last: it may end us
  }

  void tap_added(GroupId g) {
    // Frames already pushed are in the cache: they go to the other taps first, then the snapshot.
    FrameBatch batch = take_pending();
    bool here = batch && send_batch(batch);
    tap_groups_[g] = true;
    send_started(g, cache_.snapshot());
    if (here) deliver_here(streams_, id_, epoch_, batch);  // last: it may end us
  }
  void tap_removed(GroupId g) {
    tap_groups_[g] = false;
    set_subscribers(g, 0, subscribers_[g] > 0);  // its last report may not have come
  }
  /// A tap's report: group `g` has `count` subscribers now.
  void subscribers_counted(GroupId g, std::uint64_t count, bool fell_to_zero) {
    if (!tap_groups_[g]) return;  // from a tap that has gone since
    set_subscribers(g, count, fell_to_zero);
  }

  /// The module's stop hook (a copy: calling it may destroy this publication).
  std::function<void(const Status&)> stop_hook() const { return options_.stop; }

  /// The publisher's side of this stream's figures (players are added by the taps).
  StreamStats stats() const {
    StreamStats s;
    s.key = key_;
    s.is_published = true;
    s.publisher_protocol = options_.protocol;
    s.publisher_address = options_.peer_address;
    s.published_at = published_at_;
    s.audio = audio_;
    s.video = video_;
    s.data_frames = data_frames_;
    s.key_frame_interval_ms = key_frame_interval_ms_;
    return s;
  }
  void on_no_subscribers(std::function<void()> fn) noexcept override {
    owner_.check();
    on_no_subscribers_ = std::move(fn);
  }
  void no_subscribers() {
    no_subscribers_check_ = false;
    // A subscriber may have come back in a report that arrived with the one that made it 0.
    if (!on_no_subscribers_ || subscriber_total_ != 0) return;
    auto fn = on_no_subscribers_;  // a copy: fn may destroy this publication
    fn();
  }
  std::uint64_t epoch() const noexcept { return epoch_; }

 private:
  FrameBatch take_pending() {
    if (pending_.empty()) return nullptr;
    FrameBatch batch = std::make_shared<const std::vector<MediaFrame>>(std::move(pending_));
    pending_.clear();
    return batch;
  }
  // Posts `batch` to the taps of other groups (and to this group's tap while its start is still
  // on the way, to keep the order); true if this group's tap takes it directly.
  bool send_batch(const FrameBatch& batch) {
    bool here = false;
    for (GroupId g = 0; g < tap_groups_.size(); ++g) {
      if (!tap_groups_[g]) continue;
      if (g == streams_.group().id() && streams_.is_tap_current(id_, epoch_)) here = true;
      else streams_.group().post(g, std::make_unique<FramesPublished>(id_, epoch_, batch));
    }
    return here;
  }
  // A local subscriber may end the publication (a player failing closes its session, which
  // unpublishes): a static, so that nothing of it is touched once the subscribers were called.
  static void deliver_here(StreamsImpl& streams, StreamId id, std::uint64_t epoch, const FrameBatch& batch) {
    streams.on_frames(id, epoch, batch);
  }
  void set_subscribers(GroupId g, std::uint64_t count, bool fell_to_zero) {
    subscriber_total_ = subscriber_total_ - subscribers_[g] + count;
    subscribers_[g] = count;
    if (!fell_to_zero || subscriber_total_ != 0 || no_subscribers_check_) return;
    // Asked in a later turn of this group (never inside a module's call), after the rest of this
    // batch of messages, which may bring a subscriber back.
    no_subscribers_check_ = true;
    streams_.group().defer([&streams = streams_, id = id_, epoch = epoch_] { streams.on_no_subscribers(id, epoch); });
  }

  // Plain fields of the publisher's group: counting costs a few adds per frame, no atomics.
  void count(const MediaFrame& frame) noexcept {
    if (frame.kind == MediaKind::data) {
      ++data_frames_;
      return;
    }
    TrackStats& track = frame.kind == MediaKind::video ? video_ : audio_;
    track.codec = frame.codec;
    if (frame.flags.is_sequence_header) {
      track.sequence_header = frame;  // shares the pages
      return;
    }
    if (track.frames == 0) track.first_dts_ms = frame.dts_ms;
    track.last_dts_ms = frame.dts_ms;
    ++track.frames;
    track.bytes += frame.payload.size();
    if (frame.kind == MediaKind::video && frame.flags.is_key_frame) {
      if (track.key_frames > 0) key_frame_interval_ms_ = frame.dts_ms - last_key_frame_dts_ms_;
      last_key_frame_dts_ms_ = frame.dts_ms;
      ++track.key_frames;
    }
  }

  void send_started(GroupId g, std::vector<MediaFrame> snapshot) {
    GroupId here = streams_.group().id();
    if (g == here) streams_.on_stream_started(id_, epoch_, here, std::move(snapshot));
    else streams_.group().post(g, std::make_unique<StreamStarted>(id_, epoch_, here, std::move(snapshot)));
  }

  ThreadOwner owner_;
  StreamsImpl& streams_;
  const StreamId id_;
  const std::uint64_t epoch_;
  const StreamKey key_;
  const PublishOptions options_;
  std::vector<bool> tap_groups_;
  std::vector<std::uint64_t> subscribers_;  // per group, as its tap last reported
  std::uint64_t subscriber_total_ = 0;
  bool no_subscribers_check_ = false;
  GopCache cache_;
  std::vector<MediaFrame> pending_;
  bool hook_requested_ = false;
  const Clock::time_point published_at_;
  TrackStats audio_;
  TrackStats video_;
  std::uint64_t data_frames_ = 0;
  std::int64_t last_key_frame_dts_ms_ = 0;
  std::int64_t key_frame_interval_ms_ = 0;
  std::function<void()> on_no_subscribers_;
};

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(StreamsImpl& streams, StreamId id, StreamKey key, StreamSubscriber& subscriber,
                   std::string protocol)
      : streams_(streams), id_(id), key_(std::move(key)), subscriber_(subscriber), protocol_(std::move(protocol)) {
    if (Tap* tap = streams_.find_tap(id_)) tap->attach(*this);
  }
  ~SubscriptionImpl() override {
    if (Tap* tap = streams_.find_tap(id_)) tap->detach(*this);
    streams_.unsubscribe(id_, subscriber_, protocol_);
  }
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
  const std::string protocol_;
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
  auto publication = std::make_unique<PublicationImpl>(*this, *claim, key, std::move(options));
  publications_[claim->id] = publication.get();
  group_.logger().info("stream={} published", key.to_string());
  if (settings_.published && !settings_.published->empty()) {
    // After the publisher's own handler: a hook may subscribe (a recorder), which must not run
    // inside publish().
    group_.defer([this, key] {
      for (const auto& fn : *settings_.published) fn(group_, key);
    });
  }
  return std::unique_ptr<Publication>(std::move(publication));
}

Result<std::unique_ptr<Subscription>> StreamsImpl::subscribe(const StreamKey& key, StreamSubscriber& subscriber,
                                                             SubscribeOptions options) noexcept {
  owner_.check();
  if (!refusal_.empty()) {
    group_.stats_impl().count_refused_player(options.protocol);
    return error(Errc::denied, "{}", refusal_);
  }
  std::string text = key.to_string();
  auto known = tap_ids_.find(text);
  Tap* tap = known != tap_ids_.end() ? find_tap(known->second) : nullptr;
  // A started tap answers for the registry: joins after a group's first take no lock.
  const bool started = tap && tap->is_started();
  const bool has_demand = settings_.demand && !settings_.demand->empty();
  if (!started && (has_demand || !options.wait_for_publisher) && !registry_->is_published(key)) {
    // Nobody publishes it: a module that publishes on demand (Registrar::on_stream_demand) may
    // start now, and the subscriber waits for it.
    bool demanded = false;
    if (has_demand)
      for (const auto& fn : *settings_.demand) demanded = fn(group_, key, options.source) || demanded;
    if (!demanded && !options.source.empty())
      return error(Errc::not_found, "stream {} is not published, and no module pulls {}", key.to_string(),
                   without_userinfo(options.source));
    if (!demanded && !options.wait_for_publisher)
      return error(Errc::not_found, "stream {} is not published", key.to_string());
  }
  StreamId id;
  if (tap) {
    id = known->second;
  } else {
    StreamRegistry::TapInfo info = registry_->add_tap(key, group_.id());
    id = info.id;
    tap_ids_[text] = id;
    tap = (taps_[id] = std::make_unique<Tap>(*this, id, key, info.publisher)).get();
    if (info.publisher) {
      if (*info.publisher == group_.id()) on_tap_added(id, group_.id());
      else group_.post(*info.publisher, std::make_unique<TapAdded>(id, group_.id()));
    }
  }
  tap->add(subscriber, options.protocol);
  return std::unique_ptr<Subscription>(
      std::make_unique<SubscriptionImpl>(*this, id, key, subscriber, std::move(options.protocol)));
}

void StreamsImpl::set_admission(std::string refusal) noexcept {
  owner_.check();
  if (refusal == refusal_) return;
  if (refusal.empty()) group_.logger().info("admitting new players again");
  else group_.logger().warn("refusing new players: {}", refusal);
  refusal_ = std::move(refusal);
}

void StreamsImpl::stop(const StreamKey& key, Status reason, std::function<void(Status)> done) noexcept {
  owner_.check();
  std::optional<GroupId> publisher = registry_->publisher_of(key);
  if (!publisher) {
    group_.defer([done = std::move(done), key] { done(error(Errc::not_found, "stream {} is not published", key.to_string())); });
    return;
  }
  auto request = std::make_unique<StopRequest>();
  request->key = key;
  request->reason = std::move(reason);
  request->reply_to = group_.id();
  request->done = std::make_shared<std::function<void(Status)>>(std::move(done));
  group_.post(*publisher, std::move(request));
}

Status StreamsImpl::stop_local(const StreamKey& key, const Status& reason) {
  owner_.check();
  for (const auto& [id, publication] : publications_) {
    if (!(publication->key() == key)) continue;
    std::function<void(const Status&)> hook = publication->stop_hook();
    if (!hook) return error(Errc::unsupported, "the publisher of {} cannot be stopped by its module", key.to_string());
    group_.logger().info("stream={} stopping: {}", key.to_string(), reason.message());
    hook(reason);  // may destroy the publication and change publications_: return at once
    return ok();
  }
  return error(Errc::not_found, "stream {} is not published", key.to_string());
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

void StreamsImpl::unsubscribe(StreamId id, StreamSubscriber& subscriber, const std::string& protocol) {
  Tap* tap = find_tap(id);
  if (!tap) return;
  tap->remove(subscriber, protocol);
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

void StreamsImpl::on_no_subscribers(StreamId id, std::uint64_t epoch) {
  auto it = publications_.find(id);
  if (it != publications_.end() && it->second->epoch() == epoch) it->second->no_subscribers();
}

void StreamsImpl::report_subscribers(GroupId publisher, StreamId id, std::uint64_t count, bool fell_to_zero) {
  if (publisher == group_.id()) on_subscribers_counted(id, publisher, count, fell_to_zero);
  else group_.post(publisher, std::make_unique<SubscribersCounted>(id, group_.id(), count, fell_to_zero));
}

void StreamsImpl::on_subscribers_counted(StreamId id, GroupId group, std::uint64_t count, bool fell_to_zero) {
  auto it = publications_.find(id);
  if (it != publications_.end()) it->second->subscribers_counted(group, count, fell_to_zero);
}

bool StreamsImpl::is_tap_current(StreamId id, std::uint64_t epoch) {
  Tap* tap = find_tap(id);
  return tap && tap->is_current(epoch);
}

void StreamsImpl::on_stream_started(StreamId id, std::uint64_t epoch, GroupId publisher,
                                    std::vector<MediaFrame> snapshot) {
  if (Tap* tap = find_tap(id)) tap->started(epoch, publisher, std::move(snapshot));
}

void StreamsImpl::on_frames(StreamId id, std::uint64_t epoch, const FrameBatch& batch) {
  if (Tap* tap = find_tap(id)) tap->frames(epoch, *batch);
}

void StreamsImpl::on_stream_stopped(StreamId id, std::uint64_t epoch) {
  if (Tap* tap = find_tap(id)) tap->stopped(epoch);
}

namespace {

// Merges the groups' parts of Streams::collect(), sorted by "app/name".
std::vector<StreamStats> merge_stream_parts(std::vector<std::vector<StreamStats>> parts) {
  std::map<std::string, StreamStats> by_key;
  for (auto& part : parts) {
    for (StreamStats& stream : part) {
      auto [it, is_new] = by_key.try_emplace(stream.key.to_string());
      StreamStats& merged = it->second;
      std::uint64_t players = merged.players + stream.players;
      DeliveryCounts delivered = merged.delivered;
      delivered.bytes_sent += stream.delivered.bytes_sent;
      delivered.frames_dropped += stream.delivered.frames_dropped;
      auto by_protocol = std::move(merged.players_by_protocol);
      auto added = std::move(stream.players_by_protocol);
      // The publisher's part carries everything but the players; a tap's part only key, players
      // and deliveries.
      if (is_new || stream.is_published) merged = std::move(stream);
      merged.players = players;
      merged.delivered = delivered;
      for (auto& [protocol, count] : added) {
        auto same = std::find_if(by_protocol.begin(), by_protocol.end(), [&](const auto& p) { return p.first == protocol; });
        if (same == by_protocol.end()) by_protocol.emplace_back(protocol, count);
        else same->second += count;
      }
      std::sort(by_protocol.begin(), by_protocol.end());
      merged.players_by_protocol = std::move(by_protocol);
    }
  }
  std::vector<StreamStats> streams;
  streams.reserve(by_key.size());
  for (auto& [text, stream] : by_key) streams.push_back(std::move(stream));
  return streams;
}

}  // namespace

std::vector<StreamStats> StreamsImpl::local_stats() const {
  owner_.check();
  std::vector<StreamStats> part;
  for (const auto& [id, publication] : publications_) part.push_back(publication->stats());
  for (const auto& [id, tap] : taps_) {
    StreamStats s;
    s.key = tap->key();
    s.players = tap->player_count();
    s.delivered = tap->delivered();
    for (const auto& [protocol, count] : tap->players_by_protocol()) s.players_by_protocol.emplace_back(protocol, count);
    part.push_back(std::move(s));
  }
  return part;
}

void StreamsImpl::collect(std::function<void(std::vector<StreamStats>)> done) noexcept {
  owner_.check();
  gather<std::vector<StreamStats>>(
      group_, [](PollGroupImpl& group) { return group.streams_impl().local_stats(); },
      [done = std::move(done)](std::vector<std::vector<StreamStats>> parts) {
        done(merge_stream_parts(std::move(parts)));
      });
}

}  // namespace weir::kernel
