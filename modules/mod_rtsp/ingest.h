// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspIngest: an RTSP publisher (ANNOUNCE, SETUP with mode=record, RECORD), the mirror of
// RtspPlayer. It owns the stream's Publication and turns each track's RTP into frames:
//
//   $ frame (TCP) or datagram (UDP) --> [reorder window, UDP only] --> depacketizer (formats/rtp)
//      --> access unit (AVCC NAL units, raw AAC...) --> FLV tag body in ingest pages --> MediaFrame
//
// so that RTMP players, statistics and every later output need nothing RTSP-specific. The SDP's
// parameter sets (and those that come in band) become sequence headers.
//
// Timing: each track's RTP clock is unwrapped to 64 bits and mapped to milliseconds. Tracks are
// aligned by the RTCP sender reports' wall clock when the publisher sends them (ffmpeg and
// GStreamer do, before or with their first packets), else by the arrival of each track's first packet.
//
// Thread: the connection's poll group. Owned by the session; destroying it unpublishes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"
#include "weir/connection.h"
#include "weir/log.h"
#include "weir/pages.h"
#include "weir/stream.h"
#include "weir/udp.h"

namespace weir::rtsp {

class RtspGroup;
struct IngestTrack;

/// What an RtspIngest needs of the connection it arrives on: a publishing session (RtspSession,
/// ANNOUNCE/RECORD) or a pull from a camera (RtspPuller's client). Thread: the connection's group.
class IngestHost {
 public:
  virtual RtspGroup& group() noexcept = 0;
  virtual Connection& connection() noexcept = 0;
  virtual const Logger& logger() const noexcept = 0;
  /// The peer's host, as UDP destinations need it.
  virtual const std::string& peer_host() const noexcept = 0;
  /// Routes the peer's datagrams from `peer` to the host (UDP transport); false when taken.
  virtual bool route(const UdpPeer& peer) = 0;
  /// Closes the connection now (a broken stream, the page pool exhausted).
  virtual void fail(Status reason) = 0;
  /// PublishOptions::protocol of the stream: "rtsp" for a publisher, "rtsp-pull" for a camera.
  virtual std::string_view publish_protocol() const noexcept = 0;

 protected:
  ~IngestHost() = default;
};

class RtspIngest {
 public:
  RtspIngest(IngestHost& host, StreamKey key);
  ~RtspIngest();

  const StreamKey& key() const noexcept { return key_; }
  /// Reads the ANNOUNCE SDP: the tracks, their codecs and configurations. Errc::unsupported when no
  /// track has a codec we take; tracks we cannot take are skipped (logged).
  Status describe(const std::string& sdp);
  /// SETUP of one track: the Transport answer, or an error (Errc::unsupported: 461).
  Result<std::string> setup(const formats::rtsp::StreamPath& path, const std::vector<formats::rtsp::TransportSpec>& specs);
  bool has_setup() const noexcept;
  /// Pull side: the a=control of each track describe() took, in order (index for setup_interleaved).
  std::vector<std::string> track_controls() const;
  /// Pull side: track `index` arrives over TCP interleaved on these channels (the camera's answer).
  void setup_interleaved(std::size_t index, std::uint8_t rtp_channel, std::uint8_t rtcp_channel);
  bool uses_udp() const noexcept { return udp_; }
  /// Pull side: start() pushes to `publication` (the puller's, kept across the camera's
  /// reconnects) instead of publishing, with every timestamp moved `time_offset_ms` on (the
  /// stream's timeline goes on from where the last connection left it).
  void use_publication(Publication& publication, std::int64_t time_offset_ms) noexcept {
    external_ = &publication;
    time_offset_ms_ = time_offset_ms;
    last_dts_ = time_offset_ms;  // sequence headers before the first frame go at the offset
  }
  /// RECORD (or the pull's PLAY): publishes the stream (or starts pushing to use_publication()'s).
  Status start();
  bool is_publishing() const noexcept { return publication_ != nullptr; }
  /// The stream's Publication once start() succeeded, else null.
  Publication* publication() noexcept { return publication_; }
  /// The latest decode time pushed, milliseconds (the offset included).
  std::int64_t last_dts() const noexcept { return last_dts_; }

  void on_interleaved(std::uint8_t channel, std::span<const std::uint8_t> payload) noexcept;
  void on_datagram(const PageSlice& data, const UdpPeer& from, bool rtcp) noexcept;

  /// A track's RTP packet in sequence order, after `lost` missing ones (IngestTrack's reorder window).
  void on_ordered_rtp(IngestTrack& track, std::span<const std::uint8_t> packet, std::uint32_t lost,
                      Clock::time_point arrival);
  /// Called by a track's depacketizer (IngestTrack) with each access unit.
  void push_access_unit(IngestTrack& track, std::uint64_t rtp_time, std::span<const std::uint8_t> data, bool is_key);

 private:
  void on_rtp(IngestTrack& track, std::span<const std::uint8_t> packet, Clock::time_point arrival);
  void on_rtcp(IngestTrack& track, std::span<const std::uint8_t> packet);
  void push_header(IngestTrack& track);
  std::int64_t to_ms(IngestTrack& track, std::uint64_t rtp_time);

  IngestHost& session_;  // the session or the pull it arrives on
  const StreamKey key_;
  std::vector<std::unique_ptr<IngestTrack>> tracks_;
  std::unique_ptr<Publication> owned_;  // when this ingest published the stream itself
  Publication* external_ = nullptr;     // use_publication()
  Publication* publication_ = nullptr;  // one of the two, once started
  std::int64_t time_offset_ms_ = 0;
  bool udp_ = false;
  bool has_origin_ = false;
  Clock::time_point origin_;          // arrival of the first packet of any track
  std::uint64_t origin_wall_ms_ = 0;  // the sender-report wall clock at origin, once known
  std::int64_t last_dts_ = 0;
  std::vector<std::uint8_t> body_;    // a frame's tag body being built
};

}  // namespace weir::rtsp
