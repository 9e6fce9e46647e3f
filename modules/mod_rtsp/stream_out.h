// SPDX-License-Identifier: Apache-2.0
#pragma once
// StreamOut: one stream's RTP packets on one poll group, built once and shared by every RTSP
// player of the group (TCP and UDP alike).
//
//   MediaFrame (FLV tag body, shared pages) --packetize once--> PacketizedFrame
//      [$ ch len][RTP header][payload] [$ ch len][RTP header][payload] ...   one run of page bytes
//
// A frame's packets are written one after another into the group's packet pages, so a TCP
// player whose interleaved channels are the usual ones (track t on 2t) sends a whole frame as one
// or two slices: one iovec, no per-player byte written. A UDP player sends each packet's slice
// past its 4-byte prefix as one datagram. Every player of a stream on this group gets the same
// SSRC, sequence numbers and timestamps; PLAY's RTP-Info tells each where it starts. The payload
// is copied once per stream per group (a few Mbit/s, against one iovec per player per frame saved:
// docs/mod_rtsp.md).
//
// Late joiners: the packets since the last key frame stay here (the GOP), so that a player that
// starts plays from the key frame with the same numbering as everyone else. The frames players
// receive from the kernel are matched to these by identity (first payload page and offset), so
// the kernel's fan-out, statistics and hooks stay those of every other protocol.
//
// Thread: the group's. Owned by the group's players (shared_ptr); the group keeps a weak link.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtp_codecs.h"
#include "weir/media.h"
#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/stream.h"

namespace weir::rtsp {

class RtspGroup;

/// One track of the stream as players see it (an SDP media section).
struct TrackOut {
  MediaKind kind = MediaKind::video;
  Codec codec = Codec::unknown;
  std::uint8_t payload_type = 96;
  std::uint32_t clock_rate = 90000;
  std::uint8_t channels = 0;
  std::uint32_t frame_samples = 1024;  // AAC: samples per frame at clock_rate
  std::uint32_t ssrc = 0;
  /// The codec configuration (the sequence header's codec data: AVC/HEVC record, AAC config).
  std::vector<std::uint8_t> config;
  std::unique_ptr<OutCodec> packetizer;
  std::uint16_t next_sequence = 0;
  std::uint32_t last_rtp_timestamp = 0;
  std::int64_t first_dts = 0;  // ms, of the first packetized frame
  std::int64_t last_dts = 0;   // ms, of the latest packetized frame
  bool has_frames = false;
  std::uint64_t packets = 0;   // for sender reports
  std::uint64_t octets = 0;
  std::uint64_t last_ntp_ms = 0;  // wall time (ms since the Unix epoch) matching last_rtp_timestamp
};

/// A frame as RTP packets: what every player of the group sends.
struct PacketizedFrame {
  // Identity of the source frame (its payload's first slice) and its time.
  const Page* page = nullptr;
  std::uint32_t offset = 0;
  std::int64_t dts = 0;
  std::uint8_t track = 0;
  bool is_video = false;
  bool is_key = false;
  std::uint16_t first_sequence = 0;
  std::uint32_t rtp_timestamp = 0;
  std::uint64_t payload_bytes = 0;   // the frame's codec bytes (statistics: bytes out vs bytes in)
  PageChain bytes;                   // the packets, each behind its 4-byte interleaved prefix
  std::vector<std::uint16_t> sizes;  // each packet's RTP length (prefix excluded)
};

/// Calls fn(slice) for each packet of `frame`, the slice holding its 4-byte interleaved prefix and
/// RTP bytes. Each packet was written into one page, so it lies inside one slice of the chain.
template <class Fn>
void for_each_packet(const PacketizedFrame& frame, Fn&& fn) {
  auto slices = frame.bytes.slices();
  std::size_t slice = 0;
  std::uint32_t at = 0;
  for (std::uint16_t size : frame.sizes) {
    while (slice < slices.size() && at >= slices[slice].length) {
      ++slice;
      at = 0;
    }
    if (slice == slices.size()) return;
    const std::uint32_t length = 4u + size;
    if (at + length > slices[slice].length) return;  // cannot happen: packets never straddle pages
    fn(slices[slice].sub(at, length));
    at += length;
  }
}

class StreamOut {
 public:
  StreamOut(RtspGroup& group, StreamKey key);
  ~StreamOut();

  const StreamKey& key() const noexcept { return key_; }
  /// Learns headers from `frame` and returns its packets (built now if this is the first player
  /// of the group to see it); null when there is nothing to send (a header, metadata, a codec
  /// RTP cannot carry, a frame older than the cache).
  const PacketizedFrame* packetize(const MediaFrame& frame);
  /// Whether the tracks are known well enough to describe: a video and/or audio track with its
  /// configuration, and, within a moment of the first one, both kinds.
  bool can_describe(Clock::time_point now) const noexcept;
  /// The SDP of the stream; `control` is the aggregate URL players use for SETUP.
  std::string sdp(const std::string& host) const;
  const std::vector<TrackOut>& tracks() const noexcept { return tracks_; }
  /// The frames since the last key frame, in order: a starting player sends these first.
  const std::deque<PacketizedFrame>& gop() const noexcept { return gop_; }
  /// The newest packetized frame of the stream, if any (a player's live edge).
  const PacketizedFrame* newest() const noexcept { return gop_.empty() ? nullptr : &gop_.back(); }
  /// Where a player starting now begins on `track`: the sequence number and RTP time of the first
  /// packet it will get (RTP-Info).
  std::pair<std::uint16_t, std::uint32_t> start_of(std::size_t track) const noexcept;
  /// An RTCP compound packet (SR + SDES) for `track`, behind a 4-byte interleaved prefix on
  /// channel 2 * track + 1; empty before the track sent anything.
  std::vector<std::uint8_t> sender_report(std::size_t track) const;
  /// An RTCP BYE for every track, each behind its interleaved prefix.
  std::vector<std::vector<std::uint8_t>> goodbyes() const;
  /// The kernel's first batch reached a player of this stream (headers and GOP replayed).
  void mark_settled() noexcept { settled_ = true; }
  bool settled() const noexcept { return settled_; }
  /// The publisher restarted (StreamEvent::published): headers may change, the GOP is gone.
  void on_republished();

 private:
  TrackOut* track_for(const MediaFrame& frame, bool create);
  void learn_header(TrackOut& track, const MediaFrame& frame, std::span<const std::uint8_t> codec_data);
  std::uint32_t rtp_time(TrackOut& track, const MediaFrame& frame);
  const PacketizedFrame* build(TrackOut& track, std::uint8_t index, const MediaFrame& frame,
                               std::span<const std::uint8_t> codec_data);

  RtspGroup& group_;
  const StreamKey key_;
  std::vector<TrackOut> tracks_;  // video first when there is one (trackID = index)
  std::deque<PacketizedFrame> gop_;
  std::uint64_t gop_bytes_ = 0;
  bool settled_ = false;
  Clock::time_point first_track_at_{};  // when this group learned the stream's first track
  // Wall clock of the stream: a frame of dts d happened at wall_origin_ms_ + (d - dts_origin_).
  bool has_origin_ = false;
  std::int64_t dts_origin_ = 0;
  std::uint64_t wall_origin_ms_ = 0;
  std::vector<std::uint8_t> scratch_;  // a frame's codec data when its payload spans pages
};

}  // namespace weir::rtsp
