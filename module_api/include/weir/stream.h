// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Streams: a publisher pushes media frames under (app, name); subscribers on any poll group
/// receive them. The stream lives on its publisher's group; each other group with subscribers gets
/// one message per batch of frames (not one per subscriber) and fans out locally.
///
///   group P (publisher)                       group S (subscribers)
///   Publication::push(frame) --> pending        Tap: cache + local subscribers
///        end of turn: one FramesPublished ----->  on_frames(batch) to each subscriber
///
/// Late joiners get the sequence headers, the metadata and the current GOP from the cache first.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/media.h"
#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/status.h"

namespace weir {

/// One media frame, codec-agnostic. The payload is the frame as the FLV/RTMP tag body carries it
/// (the codec header byte(s) then codec data from `codec_data_offset`): the one internal format,
/// so RTMP and FLV output need no re-framing. Copying a frame shares its pages.
struct MediaFrame {
  std::int64_t dts_ms = 0;          ///< decode timestamp, milliseconds, publisher's timeline
  std::int32_t composition_ms = 0;  ///< pts - dts
  MediaKind kind = MediaKind::data;
  Codec codec = Codec::unknown;
  FrameFlags flags;
  std::uint16_t codec_data_offset = 0;  ///< where codec data starts inside payload
  PageChain payload;
};

/// (application, stream name): "live" + "cam1".
struct StreamKey {
  std::string app;
  std::string name;
  std::string to_string() const { return app + "/" + name; }
  friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

/// What happened to the stream a subscriber watches. Delivered on the subscriber's group.
enum class StreamEvent : std::uint8_t {
  published,    ///< a publisher started (or restarted after a gap): new headers follow
  unpublished,  ///< the publisher left and did not come back within the grace period
};

/// Receives frames and events of one stream. Thread: the subscriber's poll group. The
/// subscription must be destroyed before the subscriber.
class StreamSubscriber {
 public:
  /// A batch of frames in decode order. The first batch after subscribing (or after `published`)
  /// replays the cache: headers, metadata, then the GOP from its key frame. The span is borrowed
  /// for the call; copy the frames (cheap: page references) to keep them.
  virtual void on_frames(std::span<const MediaFrame> frames) noexcept = 0;
  virtual void on_stream_event(StreamEvent event) noexcept = 0;

 protected:
  ~StreamSubscriber() = default;
};

/// A publisher's handle. Thread: the publisher's poll group. Destroying it unpublishes.
class Publication {
 public:
  virtual ~Publication() = default;
  /// Adds a frame; it leaves to subscribers at the end of this loop turn with the others.
  virtual void push(MediaFrame frame) noexcept = 0;
  virtual const StreamKey& key() const noexcept = 0;
  /// Subscribers on all groups, as last counted (updated as they come and go).
  virtual std::uint64_t subscriber_count() const noexcept = 0;
  /// Sets what to call when the last subscriber (of any group) left: each time the count falls
  /// to 0, unless one came back before the news reached this group. Called on this group, in its
  /// own loop turn (never inside push() or a subscriber's call), while this handle lives; it may
  /// destroy the handle. Empty: nothing. Costs nothing per frame (a message per drop to 0).
  virtual void on_no_subscribers(std::function<void()> fn) noexcept = 0;
};

/// What one subscriber delivered of its stream, as its module counted it (statistics).
struct DeliveryCounts {
  /// Audio and video payload bytes sent (the bytes StreamStats' tracks count: sequence headers,
  /// metadata and the protocol's framing excluded), so bytes out compare with bytes in.
  std::uint64_t bytes_sent = 0;
  std::uint64_t frames_dropped = 0;  ///< frames skipped because the subscriber was behind
};

/// A subscriber's handle. Thread: the subscriber's poll group. Destroying it detaches.
class Subscription {
 public:
  virtual ~Subscription() = default;
  virtual const StreamKey& key() const noexcept = 0;
  virtual bool is_published() const noexcept = 0;
  /// Counts what the subscriber sent and skipped, for Streams::collect() (per stream, summed over
  /// its subscribers, those gone included). Plain adds to this group's fields: no atomic, no
  /// call; a module bumps it once per batch of on_frames(). Thread: the subscriber's group.
  void count_delivery(std::uint64_t bytes_sent, std::uint64_t frames_dropped) noexcept {
    delivered_.bytes_sent += bytes_sent;
    delivered_.frames_dropped += frames_dropped;
  }
  /// What count_delivery() added up so far.
  const DeliveryCounts& delivered() const noexcept { return delivered_; }

 protected:
  DeliveryCounts delivered_;
};

struct PublishOptions {
  bool gop_cache = true;  ///< keep headers + the current GOP for late joiners
  std::string protocol = {};      ///< for statistics: how the publisher came ("rtmp"); may stay empty
  std::string peer_address = {};  ///< for statistics: the publisher's address ("127.0.0.1:50412")
  /// Called on the publisher's group when Streams::stop() asks this publication to end (an
  /// operator's action); the module ends it, e.g. closes the connection with `reason`. It may
  /// destroy the Publication. Unset: Streams::stop() answers Errc::unsupported.
  std::function<void(const Status& reason)> stop = {};
};

struct SubscribeOptions {
  /// If nobody publishes the key: false fails with Errc::not_found; true waits for a publisher.
  bool wait_for_publisher = false;
  std::string protocol = {};  ///< for statistics: players are counted per protocol ("rtmp")
  /// Where the stream may be pulled from when nobody publishes it (an application's verdict:
  /// "rtsp://camera/..."): passed to the Registrar::on_stream_demand functions, and a
  /// subscription none of them takes fails naming it. Empty: the modules' own configuration.
  std::string source = {};
};

/// One track of a publication, as counted by the kernel since it was published.
struct TrackStats {
  Codec codec = Codec::unknown;   ///< of the latest frame
  std::uint64_t frames = 0;       ///< frames pushed, sequence headers excluded
  std::uint64_t bytes = 0;        ///< payload bytes of those frames
  std::uint64_t key_frames = 0;   ///< video: frames flagged is_key_frame
  std::int64_t first_dts_ms = 0;  ///< of the first counted frame
  std::int64_t last_dts_ms = 0;   ///< of the latest counted frame
  /// The latest sequence header (codec configuration), pages shared; empty payload when none came.
  /// A statistics module may decode it (formats/flv/codec_config.h) for resolution or sample rate.
  MediaFrame sequence_header;
};

/// One stream's figures, gathered from every group by Streams::collect().
struct StreamStats {
  StreamKey key;
  bool is_published = false;       ///< false: only players waiting (or within the grace period)
  std::string publisher_protocol;  ///< PublishOptions::protocol
  std::string publisher_address;   ///< PublishOptions::peer_address
  Clock::time_point published_at{};
  TrackStats audio;
  TrackStats video;
  std::uint64_t data_frames = 0;             ///< metadata and other data frames
  std::int64_t key_frame_interval_ms = 0;    ///< dts between the last two key frames; 0 until two came
  std::uint64_t players = 0;                 ///< subscribers on all groups
  std::vector<std::pair<std::string, std::uint64_t>> players_by_protocol;  ///< sorted by protocol
  /// Subscription::count_delivery() summed over the stream's subscribers on all groups, those who
  /// left included while their group still has players of the stream (a group's part restarts
  /// from 0 when its last player leaves: a reader measuring a rate treats a drop as a restart).
  DeliveryCounts delivered;
};

/// The stream registry seen from one poll group. Thread: that group.
class Streams {
 public:
  /// Starts publishing `key` from this group; Errc::exists when another publisher has it.
  virtual Result<std::unique_ptr<Publication>> publish(const StreamKey& key,
                                                        PublishOptions options) noexcept = 0;
  /// Subscribes `subscriber` (which must outlive the returned handle) to `key`.
  virtual Result<std::unique_ptr<Subscription>> subscribe(const StreamKey& key,
                                                          StreamSubscriber& subscriber,
                                                          SubscribeOptions options) noexcept = 0;
  virtual bool is_published(const StreamKey& key) const noexcept = 0;
  /// Gathers every stream's figures with one message to each group (publications report their
  /// counters, taps their players) and calls `done` on this group with the streams sorted by key.
  /// Nothing on the media path waits for it: counters are plain fields of their group's objects.
  virtual void collect(std::function<void(std::vector<StreamStats>)> done) noexcept = 0;
  /// Load shedding: while `refusal` is non-empty, subscribe() on this group fails with
  /// Errc::denied and that text (the player's module shows it to the player); empty admits again.
  /// Per group: a module that watches the load posts the change to every group.
  virtual void set_admission(std::string refusal) noexcept = 0;
  /// Asks the publisher of `key`, on its group, to end the publication (PublishOptions::stop)
  /// and calls `done` on this group: ok, Errc::not_found if nobody publishes it, Errc::unsupported
  /// if the publisher's module cannot stop it.
  virtual void stop(const StreamKey& key, Status reason, std::function<void(Status)> done) noexcept = 0;

 protected:
  ~Streams() = default;
};

}  // namespace weir
