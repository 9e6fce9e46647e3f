// SPDX-License-Identifier: Apache-2.0
#pragma once
// UDP multicast (RFC 2326 12.39, `Transport: RTP/AVP;multicast`): a stream's packets leave once,
// to a group address, for every player on the network that joins it.
//
//   SETUP ...;multicast   (a session on any poll group)
//       --> MulticastDirectory: the stream's group address ([rtsp] multicast_range, one address
//           per stream while any session holds it); answered as destination=A;port=P-P+1;ttl=T
//   PLAY  --> a join posted to the stream's home group (a hash of its name), where one
//           MulticastOut subscribes through the kernel like any player and sends each packet once
//           to A:P+2t (track t), RTCP sender reports to A:P+2t+1
//   the session ends --> a leave posted there; the last one stops the sending
//
// The directory is the one state the groups share: a mutex taken at SETUP and at a session's end,
// never on the media path. Everything else lives on the home group.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "weir/poll_group.h"
#include "weir/stream.h"
#include "weir/udp.h"

namespace weir::rtsp {

class RtspGroup;
class StreamOut;
struct PacketizedFrame;
struct RtspConfig;

/// Which group address each multicast stream has. Thread: any (a mutex; control path only).
class MulticastDirectory {
 public:
  explicit MulticastDirectory(const RtspConfig& config) : config_(config) {}
  /// The address of `stream` ("app/name"), port 0: the one it has, or the next free one of the
  /// range. Each acquire() is matched by one release(). Null when multicast is off or every
  /// address of the range is taken.
  std::optional<UdpPeer> acquire(const std::string& stream);
  void release(const std::string& stream) noexcept;

 private:
  struct Entry {
    std::uint32_t offset = 0;  // into the range
    std::uint32_t holders = 0;
  };
  const RtspConfig& config_;
  std::mutex mutex_;
  std::map<std::string, Entry> streams_;
  std::map<std::uint32_t, std::string> taken_;  // offset -> stream
  std::uint32_t next_ = 0;                      // where the search for a free offset starts
};

/// One stream sent to its multicast group, on the stream's home group. Owned by that RtspGroup
/// while sessions (of any group) have joined.
class MulticastOut final : public StreamSubscriber {
 public:
  MulticastOut(RtspGroup& group, StreamKey key, UdpPeer address);
  ~MulticastOut();

  /// Subscribes (waiting for a publisher when there is none: the sessions' players end their
  /// sessions themselves when the stream goes).
  Status start();
  void join() noexcept { ++members_; }
  /// True when that was the last member.
  bool leave() noexcept { return members_ == 0 || --members_ == 0; }
  const UdpPeer& address() const noexcept { return address_; }

  void on_frames(std::span<const MediaFrame> frames) noexcept override;
  void on_stream_event(StreamEvent event) noexcept override;

 private:
  bool should_send(const PacketizedFrame& frame) noexcept;
  void send(const PacketizedFrame& frame) noexcept;
  void send_rtcp(std::size_t track, std::span<const std::uint8_t> with_prefix) noexcept;
  void send_reports() noexcept;
  void schedule_reports();

  RtspGroup& group_;
  const StreamKey key_;
  const UdpPeer address_;
  std::shared_ptr<StreamOut> out_;
  std::unique_ptr<Subscription> subscription_;
  std::unique_ptr<Timer> report_timer_;
  std::uint32_t members_ = 0;
  bool waiting_for_key_ = true;
  bool reported_ = false;  // the first sender reports went out (with the first frames)
};

}  // namespace weir::rtsp
