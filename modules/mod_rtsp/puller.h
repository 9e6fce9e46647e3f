// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspPuller: one camera of `[rtsp] pull.<app>/<name> = rtsp://...`, pulled while someone watches.
//
//   demand (an RTSP DESCRIBE of the key) --> connect (PollGroup::connect) --> PullClient:
//     OPTIONS -> DESCRIBE (Accept: application/sdp; a 401 is answered once with the URL's
//     user:pass, Basic or Digest) -> SETUP per track (TCP interleaved, control resolved against
//     Content-Base) -> PLAY -> $ frames --> RtspIngest (the same as ANNOUNCE/RECORD) --> Publication
//     keepalive: GET_PARAMETER (OPTIONS when the camera does not list it) at half its session timeout
//
//   camera drops, refuses or goes silent --> retry after 1 s, 2 s, ... 30 s (reset after a minute of
//     good play) while players are left (the kernel's publisher_grace holds them meanwhile)
//   no subscriber for pull_idle_timeout (Publication::on_no_subscribers) --> TEARDOWN, close
//
// Thread: one poll group for each pull (RtspGroup::want_pull picks it); the client connection lives
// there too. Owned by that group's RtspGroup.

#include <chrono>
#include <memory>
#include <string>

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
  RtspGroup& group() noexcept { return group_; }

  /// A player wants the stream: starts the pull if it is not running or retrying.
  void demand();

  // From PullClient.
  /// The camera plays: the stream is published.
  void on_playing(Publication& publication);
  /// The client's connection ended (`reason`), with `subscribers` watching when it did.
  void on_client_closed(const Status& reason, std::uint64_t subscribers);

 private:
  void connect();
  void on_connect_failed(Status reason);
  void retry_or_stop(const Status& reason);
  void arm_idle_timer();
  void on_idle_timer();
  bool is_wanted() const noexcept;

  RtspGroup& group_;
  const RtspConfig::Pull& pull_;
  const StreamKey key_;
  std::unique_ptr<Outgoing> attempt_;
  PullClient* client_ = nullptr;  // the connection's handler, owned by the kernel; null when none
  Publication* publication_ = nullptr;  // the client's, while it plays
  std::unique_ptr<Timer> retry_timer_;
  std::unique_ptr<Timer> idle_timer_;
  std::chrono::milliseconds backoff_{1000};
  Clock::time_point playing_since_{};
  Clock::time_point wanted_at_{};  // the last demand, or a drop with players left
  bool playing_ = false;
};

}  // namespace weir::rtsp
