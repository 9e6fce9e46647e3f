// SPDX-License-Identifier: Apache-2.0
#pragma once
// StreamsImpl: one poll group's side of the stream registry.
//
//   publisher's group P                                 subscriber group S
//   PublicationImpl: pending frames, GopCache,          Tap (one per stream per group):
//     tap groups {P, S, ...}                              GopCache, local subscribers
//   end of turn: batch = shared vector of frames  --FramesPublished-->  each subscriber.on_frames
//                (P's own tap is served directly)
//   TapAdded (S->P): P answers StreamStarted{snapshot of its cache} before any later batch.
//   SubscribersCounted (S->P), at the end of a turn in which S's count changed: P sums the groups'
//                counts (subscriber_count(), on_no_subscribers) with no lock.
//
// A tap ignores batches until it has its StreamStarted, so a late joiner never sees half a GOP
// before the snapshot; a subscriber joining a started tap waits until the tap's cache was
// replayed to it, before any later batch. When the publisher goes, taps keep their subscribers
// for the grace period; a publisher that comes back in time resumes to them without an event.
//
// Nothing a module calls (publish(), push(), destroying a publication) calls a subscriber: the
// publication's start and its last frames and stop reach P's own tap by message too, and its
// batches reach it directly only at the end of the turn, last, so a subscriber may end it.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "stream/gop_cache.h"
#include "stream/registry.h"
#include "poll_group/poll_group.h"
#include "weir/owner.h"
#include "weir/registrar.h"
#include "weir/stream.h"

namespace weir::kernel {

class PublicationImpl;
class Tap;

/// Settings from the [streams] section.
struct StreamSettings {
  std::chrono::milliseconds publisher_grace{5000};
  /// Registrar::on_stream_demand() functions (the server's list, filled before the groups start
  /// and read-only after); null or empty: none.
  const std::vector<Registrar::StreamDemand>* demand = nullptr;
  /// Registrar::on_stream_published() functions (as `demand`).
  const std::vector<Registrar::StreamPublished>* published = nullptr;
};

using FrameBatch = std::shared_ptr<const std::vector<MediaFrame>>;

class StreamsImpl final : public Streams {
 public:
  explicit StreamsImpl(PollGroupImpl& group);
  ~StreamsImpl();
  /// Connects every group's StreamsImpl to the shared registry (before the groups start).
  void attach(StreamRegistry& registry, const StreamSettings& settings);

  Result<std::unique_ptr<Publication>> publish(const StreamKey& key, PublishOptions options) noexcept override;
  Result<std::unique_ptr<Subscription>> subscribe(const StreamKey& key, StreamSubscriber& subscriber,
                                                  SubscribeOptions options) noexcept override;
  bool is_published(const StreamKey& key) const noexcept override;
  void collect(std::function<void(std::vector<StreamStats>)> done) noexcept override;
  void set_admission(std::string refusal) noexcept override;
  void stop(const StreamKey& key, Status reason, std::function<void(Status)> done) noexcept override;
  /// On the publisher's group: runs the publication's stop hook.
  Status stop_local(const StreamKey& key, const Status& reason);
  /// This group's part of a collection: its publications (players 0) and its taps (key and players).
  std::vector<StreamStats> local_stats() const;

  // Message handlers (this group's thread).
  void on_tap_added(StreamId id, GroupId tap_group);
  void on_tap_removed(StreamId id, GroupId tap_group);
  void on_stream_started(StreamId id, std::uint64_t epoch, GroupId publisher, std::vector<MediaFrame> snapshot);
  void on_frames(StreamId id, std::uint64_t epoch, const FrameBatch& batch);
  void on_stream_stopped(StreamId id, std::uint64_t epoch);
  void on_no_subscribers(StreamId id, std::uint64_t epoch);
  void on_subscribers_counted(StreamId id, GroupId group, std::uint64_t count, bool fell_to_zero);
  /// A tap's count, to the publisher's group (directly when it is this one).
  void report_subscribers(GroupId publisher, StreamId id, std::uint64_t count, bool fell_to_zero);
  /// Whether this group's tap of `id` was started by publication `epoch`.
  bool is_tap_current(StreamId id, std::uint64_t epoch);
  void unsubscribe(StreamId id, StreamSubscriber& subscriber, const std::string& protocol);
  Tap* find_tap(StreamId id);

  void forget_publication(StreamId id) { publications_.erase(id); }
  /// Shutdown, after the modules let go of their subscriptions: drops the taps and their caches.
  void release_all() noexcept;
  void release_tap_if_unused(StreamId id);
  PollGroupImpl& group() noexcept { return group_; }
  StreamRegistry& registry() noexcept { return *registry_; }
  const StreamSettings& settings() const noexcept { return settings_; }

 private:
  ThreadOwner owner_;
  PollGroupImpl& group_;
  StreamRegistry* registry_ = nullptr;
  StreamSettings settings_;
  std::unordered_map<StreamId, PublicationImpl*> publications_;
  std::unordered_map<StreamId, std::unique_ptr<Tap>> taps_;
  std::unordered_map<std::string, StreamId> tap_ids_;
  std::string refusal_;  // non-empty: new subscribers are refused (load shedding)
};

}  // namespace weir::kernel
