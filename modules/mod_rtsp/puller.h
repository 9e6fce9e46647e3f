// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspPuller: one camera of `[rtsp] pull.<app>/<name> = rtsp://...`, or of a Lua
// `on_stream_not_found` verdict (`weir.accept{pull = "rtsp://..."}`), pulled while someone watches.
//
//   demand (a subscriber of the key, any protocol: Registrar::on_stream_demand) --> publish, connect (PollGroup::connect) --> PullClient:
//     OPTIONS -> DESCRIBE (Accept: application/sdp; a 401 is answered once with the URL's
//     user:pass, Basic or Digest) -> SETUP per track (TCP interleaved, control resolved against
//     Content-Base) -> PLAY -> $ frames --> RtspIngest (the same as ANNOUNCE/RECORD) --> Publication
//     keepalive: GET_PARAMETER (OPTIONS when the camera does not list it) at half its session timeout
//
//   camera drops, refuses or goes silent --> retry after 1 s, 2 s, ... 30 s (reset after a minute of
//     good play); the puller keeps the stream's Publication meanwhile, so players stay and see a gap,
//     and the timeline goes on where it stopped
//   no subscriber for pull_idle_timeout (Publication::on_no_subscribers) --> TEARDOWN, close, unpublish
//
// Thread: one poll group for each pulled stream (its home: RtspGroup::want_pull); the client
// connection lives there too. Owned by that group's RtspGroup.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "rtsp_config.h"
#include "weir/poll_group.h"
#include "weir/status.h"
#include "weir/stream.h"

namespace weir::rtsp {

class RtspGroup;
class PullClient;

class RtspPuller {
 public:
  RtspPuller(RtspGroup& group, const RtspConfig::Pull& pull);
  ~RtspPuller();
  RtspPuller(const RtspPuller&) = delete;
  RtspPuller& operator=(const RtspPuller&) = delete;

  const StreamKey& key() const noexcept { return key_; }
  const RtspConfig::Pull& config() const noexcept { return pull_; }
  /// Publishing: from the first demand until the pull stops.
  bool is_running() const noexcept { return publication_ != nullptr; }
  RtspGroup& group() noexcept { return group_; }

  /// A player wants the stream: starts the pull (publishing the key at once, so players wait on a
  /// publication and are counted) if it is not running.
  void demand();

  // From PullClient.
  /// The publication to push to, and the time its next connection's frames start at.
  Publication* publication() noexcept { return publication_.get(); }
  std::int64_t time_offset() const noexcept;
  /// The camera plays.
  void on_playing();
  /// The client's connection ended (`reason`); its last decode time was `last_dts`.
  void on_client_closed(const Status& reason, std::int64_t last_dts);

 private:
  void connect();
  void retry(const Status& reason);
  void stop(std::string_view why);
  void arm_idle_timer();
  void on_idle_timer();
  bool is_wanted() const noexcept;

  RtspGroup& group_;
  const RtspConfig::Pull pull_;
  const StreamKey key_;
  // The stream, published from the first demand until the pull stops: players stay subscribed
  // (and counted) across the camera's drops, and see a gap.
  std::unique_ptr<Publication> publication_;
  std::unique_ptr<Outgoing> attempt_;
  PullClient* client_ = nullptr;  // the connection's handler, owned by the kernel; null when none
  std::unique_ptr<Timer> retry_timer_;
  std::unique_ptr<Timer> idle_timer_;
  std::chrono::milliseconds backoff_{1000};
  Clock::time_point playing_since_{};
  Clock::time_point wanted_at_{};   // the last demand
  Clock::time_point dropped_at_{};  // when the last connection ended
  std::int64_t last_dts_ = -1;      // of the last connection's frames; -1 before any
  bool playing_ = false;
};

}  // namespace weir::rtsp
