// SPDX-License-Identifier: Apache-2.0
#include "stream_out.h"

#include <algorithm>
#include <random>

#include "formats/flv/codec_config.h"
#include "formats/rtp/aac.h"
#include "formats/rtp/rtcp.h"
#include "formats/rtp/rtp_packet.h"
#include "formats/rtsp/fmtp.h"
#include "formats/rtsp/sdp.h"
#include "rtsp_group.h"

namespace weir::rtsp {
namespace rtp = formats::rtp;

namespace {

// The GOP kept for late joiners is bounded: a stream with key frames too far apart stops caching
// (players then start at the next key frame) rather than pinning unbounded pages.
constexpr std::uint64_t kMaxGopBytes = 16u << 20;
// A publisher whose time jumps back this far restarted.
constexpr std::int64_t kRestartThresholdMs = 1000;
// How long after a stream's first track (its header or first frame) DESCRIBE waits for a second kind.
constexpr std::chrono::milliseconds kTrackWait{2000};

std::uint32_t random_u32() {
  static thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint32_t>(generator());
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Writes each packet the packetizer makes behind its interleaved prefix and RTP header, into the
// group's packet pages; packets that follow each other in a page join one slice.
class PacketWriter final : public rtp::PayloadSink {
 public:
  PacketWriter(PageWriter& pages, TrackOut& track, std::uint8_t channel, std::uint32_t timestamp, PacketizedFrame& out)
      : pages_(pages), track_(track), channel_(channel), timestamp_(timestamp),
        step_(track.packetizer->samples_per_packet()), out_(out) {}

  void packet(std::span<const std::span<const std::uint8_t>> pieces, bool marker) override {
    if (failed_) return;
    std::size_t payload = 0;
    for (auto piece : pieces) payload += piece.size();
    const std::size_t rtp_size = rtp::kRtpHeaderSize + payload;
    PageSlice slice;
    auto* at = reinterpret_cast<std::uint8_t*>(pages_.reserve(static_cast<std::uint32_t>(4 + rtp_size), slice));
    if (!at || rtp_size > 0xFFFF) {
      failed_ = true;
      return;
    }
    at[0] = '$';
    at[1] = channel_;
    at[2] = static_cast<std::uint8_t>(rtp_size >> 8);
    at[3] = static_cast<std::uint8_t>(rtp_size);
    rtp::RtpHeader header;
    header.marker = marker;
    header.payload_type = track_.payload_type;
    header.sequence = track_.next_sequence++;
    header.timestamp = timestamp_;
    timestamp_ += step_;
    header.ssrc = track_.ssrc;
    rtp::write_rtp_header(header, std::span<std::uint8_t, rtp::kRtpHeaderSize>(at + 4, rtp::kRtpHeaderSize));
    std::uint8_t* to = at + 4 + rtp::kRtpHeaderSize;
    for (auto piece : pieces) {
      std::copy(piece.begin(), piece.end(), to);
      to += piece.size();
    }
    out_.sizes.push_back(static_cast<std::uint16_t>(rtp_size));
    ++track_.packets;
    track_.octets += payload;
    // Consecutive reservations in one page are adjacent: extend the last slice instead of adding one.
    if (!out_.bytes.empty()) {
      const PageSlice& last = out_.bytes.slices().back();
      if (last.page == slice.page && last.offset + last.length == slice.offset) {
        PageChain merged;
        auto slices = out_.bytes.slices();
        for (std::size_t i = 0; i + 1 < slices.size(); ++i) merged.append(slices[i]);
        merged.append(PageSlice{last.page, last.offset, last.length + slice.length});
        out_.bytes = std::move(merged);
        return;
      }
    }
    out_.bytes.append(std::move(slice));
  }
  bool failed() const noexcept { return failed_; }

 private:
  PageWriter& pages_;
  TrackOut& track_;
  std::uint8_t channel_;
  std::uint32_t timestamp_;
  std::uint32_t step_;
  PacketizedFrame& out_;
  bool failed_ = false;
};

}  // namespace

StreamOut::StreamOut(RtspGroup& group, StreamKey key) : group_(group), key_(std::move(key)) {}

StreamOut::~StreamOut() = default;

TrackOut* StreamOut::track_for(const MediaFrame& frame, bool create) {
  for (TrackOut& t : tracks_)
    if (t.kind == frame.kind) return &t;
  if (!create || !rtp_can_carry(frame.codec)) return nullptr;
  if (tracks_.empty()) first_track_at_ = group_.poll_group().now();
  TrackOut t;
  t.kind = frame.kind;
  t.codec = frame.codec;
  t.packetizer = make_out_codec(frame.codec, group_.config().max_payload);
  t.ssrc = random_u32();
  t.next_sequence = static_cast<std::uint16_t>(random_u32());
  switch (frame.codec) {
    case Codec::pcmu: t.payload_type = 0; t.clock_rate = 8000; t.channels = 1; break;
    case Codec::pcma: t.payload_type = 8; t.clock_rate = 8000; t.channels = 1; break;
    case Codec::opus: t.payload_type = 97; t.clock_rate = 48000; t.channels = 2; break;
    case Codec::aac: t.payload_type = 97; t.clock_rate = 44100; t.channels = 2; break;
    default: t.payload_type = 96; t.clock_rate = 90000; break;
  }
  // Video first: players (and people reading an SDP) expect it, and trackID=0 then means video.
  if (t.kind == MediaKind::video) {
    tracks_.insert(tracks_.begin(), std::move(t));
    return &tracks_.front();
  }
  tracks_.push_back(std::move(t));
  return &tracks_.back();
}

void StreamOut::learn_header(TrackOut& track, const MediaFrame& frame, std::span<const std::uint8_t> codec_data) {
  if (codec_data.empty()) return;
  if (frame.codec != track.codec) {  // the publisher changed codec (a republish)
    track.codec = frame.codec;
    track.packetizer = make_out_codec(frame.codec, group_.config().max_payload);
    if (!track.packetizer) return;
  }
  track.config.assign(codec_data.begin(), codec_data.end());
  Status configured = track.packetizer->configure(codec_data);
  if (!configured) {
    group_.logger().warn("{}: {} sequence header not understood: {}", key_.to_string(), codec_name(frame.codec),
                         configured.message());
    track.config.clear();
    return;
  }
  if (frame.codec == Codec::aac) {
    auto rtpmap = rtp::aac_rtpmap(codec_data);
    if (rtpmap) {
      track.clock_rate = rtpmap->clock_rate;
      if (rtpmap->channels) track.channels = rtpmap->channels;
      track.frame_samples = rtpmap->frame_samples;
    }
  } else if (frame.codec == Codec::opus) {
    auto description = formats::flv::parse_codec_config(frame.codec, codec_data);
    if (description && description->channels) track.channels = description->channels;
  }
}

std::uint32_t StreamOut::rtp_time(TrackOut& track, const MediaFrame& frame) {
  const std::int64_t dts = frame.dts_ms - dts_origin_;
  const std::int64_t at = frame.kind == MediaKind::video ? dts + frame.composition_ms : dts;
  auto exact = static_cast<std::uint32_t>(static_cast<std::uint64_t>(std::max<std::int64_t>(at, 0)) * track.clock_rate / 1000);
  exact += track.ssrc;  // a random base per track (RFC 3550 5.1), taken from the random SSRC
  if (track.codec == Codec::aac && track.has_frames) {
    // Milliseconds cannot express 1024 samples at 44.1 or 48 kHz: keep the audio clock exact
    // while the source's timestamps agree with whole frames, so that players see no jitter.
    const std::uint32_t expected = track.last_rtp_timestamp + track.frame_samples;
    const auto diff = static_cast<std::int32_t>(exact - expected);
    if (std::abs(diff) <= static_cast<std::int32_t>(track.clock_rate / 1000 + 1)) return expected;
  }
  return exact;
}

const PacketizedFrame* StreamOut::packetize(const MediaFrame& frame) {
  if (frame.kind == MediaKind::data || frame.payload.slices().empty()) return nullptr;
  // The codec data, contiguous (a frame spanning pages is copied once, here).
  std::span<const std::uint8_t> data;
  const auto& slices = frame.payload.slices();
  if (slices.size() == 1) {
    data = std::span<const std::uint8_t>(slices[0].data(), slices[0].length);
  } else {
    scratch_.resize(frame.payload.size());
    frame.payload.copy_out(0, scratch_);
    data = scratch_;
  }
  if (frame.codec_data_offset > data.size()) return nullptr;
  std::span<const std::uint8_t> codec_data = data.subspan(frame.codec_data_offset);

  if (frame.flags.is_sequence_header) {
    if (TrackOut* track = track_for(frame, true)) learn_header(*track, frame, codec_data);
    return nullptr;
  }
  // Found: another player of this group built it (the common case: every player after the first).
  const PageSlice& first = slices.front();
  for (auto it = gop_.rbegin(); it != gop_.rend(); ++it)
    if (it->page == first.page.get() && it->offset == first.offset && it->dts == frame.dts_ms) return &*it;
  TrackOut* track = track_for(frame, true);
  if (!track || !track->packetizer || codec_data.empty()) return nullptr;
  // Older than what this group already sent: a replay of frames it never packetized (its cache
  // was full); players skip it and start at the next key frame.
  if (track->has_frames && frame.dts_ms < track->last_dts && frame.dts_ms + kRestartThresholdMs >= track->last_dts)
    return nullptr;
  auto index = static_cast<std::uint8_t>(track - tracks_.data());
  return build(*track, index, frame, codec_data);
}

const PacketizedFrame* StreamOut::build(TrackOut& track, std::uint8_t index, const MediaFrame& frame,
                                        std::span<const std::uint8_t> codec_data) {
  if (!has_origin_) {
    has_origin_ = true;
    dts_origin_ = frame.dts_ms;
    wall_origin_ms_ = wall_ms();
  } else if (track.has_frames && frame.dts_ms + kRestartThresholdMs < track.last_dts) {
    // The publisher's clock restarted: move the origin so that RTP time keeps going forward.
    dts_origin_ -= track.last_dts - frame.dts_ms + 40;
  }
  const bool is_key = frame.kind == MediaKind::video && frame.flags.is_key_frame;
  if (is_key || gop_bytes_ > kMaxGopBytes) {
    gop_.clear();
    gop_bytes_ = 0;
  }
  PacketizedFrame& out = gop_.emplace_back();
  out.page = frame.payload.slices().front().page.get();
  out.offset = frame.payload.slices().front().offset;
  out.dts = frame.dts_ms;
  out.track = index;
  out.is_video = frame.kind == MediaKind::video;
  out.is_key = is_key;
  out.first_sequence = track.next_sequence;
  out.rtp_timestamp = rtp_time(track, frame);
  out.payload_bytes = frame.payload.size();
  PacketWriter writer(group_.packets(), track, static_cast<std::uint8_t>(2 * index), out.rtp_timestamp, out);
  Status packed = track.packetizer->packetize(codec_data, writer);
  if (!packed || writer.failed() || out.bytes.empty()) {
    if (!packed)
      group_.logger().warn("{}: {} frame at {} ms not packetized: {}", key_.to_string(), codec_name(track.codec),
                           frame.dts_ms, packed.message());
    track.next_sequence = out.first_sequence;
    gop_.pop_back();
    return nullptr;
  }
  if (!track.has_frames) track.first_dts = frame.dts_ms;
  track.has_frames = true;
  track.last_dts = std::max(track.last_dts, frame.dts_ms);
  track.last_rtp_timestamp = out.rtp_timestamp;
  const std::int64_t at = frame.dts_ms - dts_origin_ + (out.is_video ? frame.composition_ms : 0);
  track.last_ntp_ms = wall_origin_ms_ + static_cast<std::uint64_t>(std::max<std::int64_t>(at, 0));
  gop_bytes_ += out.bytes.size();
  return &out;
}

bool StreamOut::can_describe(Clock::time_point now) const noexcept {
  // A stream that has just started may not have shown all its tracks yet: with one kind known,
  // give the other a moment to appear (a stream that has run longer has shown what it has).
  // Frames of one kind covering a second with none of the other mean there is no other (a GOP
  // replayed to a group's first player shows that at once).
  if (tracks_.size() == 1 && now - first_track_at_ < kTrackWait &&
      !(tracks_[0].has_frames && tracks_[0].last_dts - tracks_[0].first_dts >= 1000))
    return false;
  bool any = false;
  for (const TrackOut& t : tracks_) {
    // H.264/HEVC need their parameter sets, AAC its config (the SDP carries them).
    bool needs_config = t.codec == Codec::h264 || t.codec == Codec::hevc || t.codec == Codec::aac;
    if (needs_config && t.config.empty()) return false;
    any = true;
  }
  return any;
}

std::pair<std::uint16_t, std::uint32_t> StreamOut::start_of(std::size_t track) const noexcept {
  for (const PacketizedFrame& f : gop_)
    if (f.track == track) return {f.first_sequence, f.rtp_timestamp};
  const TrackOut& t = tracks_[track];
  return {t.next_sequence, t.last_rtp_timestamp};
}

std::string StreamOut::sdp(const std::string& host) const {
  namespace fr = formats::rtsp;
  fr::SessionDescription d;
  d.origin.session_id = std::to_string(wall_origin_ms_ ? wall_origin_ms_ : 1);
  d.origin.session_version = "1";
  d.origin.address = host;  // not a ?: of a literal and a string: GCC 12 -O3 warns falsely (-Wrestrict)
  if (d.origin.address.empty()) d.origin.address = "127.0.0.1";
  const bool v6 = d.origin.address.find(':') != std::string::npos;
  d.origin.address_type = v6 ? "IP6" : "IP4";
  d.name = key_.to_string();
  d.connection = fr::SdpConnection{"IN", v6 ? "IP6" : "IP4", v6 ? "::" : "0.0.0.0"};
  d.control = "*";
  d.range = "npt=now-";
  d.attributes.push_back({"tool", "Weir", true});
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    const TrackOut& t = tracks_[i];
    const int pt = t.payload_type;
    fr::SdpMedia& m = d.media.emplace_back();
    m.type = t.kind == MediaKind::video ? "video" : "audio";
    m.formats = {std::to_string(pt)};
    m.control = format("trackID={}", i);
    // The parameter sets by kind (the packetizer keeps them as the record listed them).
    std::vector<fr::NalUnit> vps, sps, pps;
    for (const auto& nal : t.packetizer ? t.packetizer->parameter_sets() : std::vector<std::vector<std::uint8_t>>{}) {
      if (nal.empty()) continue;
      const int type = t.codec == Codec::hevc ? (nal[0] >> 1) & 0x3F : nal[0] & 0x1F;
      auto* into = t.codec == Codec::hevc ? (type == 32 ? &vps : type == 33 ? &sps : type == 34 ? &pps : nullptr)
                                          : (type == 7 ? &sps : type == 8 ? &pps : nullptr);
      if (into) into->push_back(nal);
    }
    switch (t.codec) {
      case Codec::h264:
        m.rtpmaps.push_back({pt, "H264", 90000, 0});
        m.fmtps.push_back(fr::make_h264_fmtp(pt, sps, pps));
        break;
      case Codec::hevc:
        m.rtpmaps.push_back({pt, "H265", 90000, 0});
        m.fmtps.push_back(fr::make_hevc_fmtp(pt, vps, sps, pps));
        break;
      case Codec::aac:
        m.rtpmaps.push_back({pt, "MPEG4-GENERIC", t.clock_rate, t.channels ? t.channels : 2});
        m.fmtps.push_back(fr::make_aac_fmtp(pt, t.config));
        break;
      case Codec::opus:
        m.rtpmaps.push_back({pt, "opus", 48000, 2});
        m.fmtps.push_back(fr::make_opus_fmtp(pt, t.channels ? t.channels : 2));
        break;
      case Codec::pcmu: m.rtpmaps.push_back({pt, "PCMU", 8000, 0}); break;
      case Codec::pcma: m.rtpmaps.push_back({pt, "PCMA", 8000, 0}); break;
      default: break;
    }
  }
  return fr::write_sdp(d);
}

std::vector<std::uint8_t> StreamOut::sender_report(std::size_t index) const {
  std::vector<std::uint8_t> out;
  if (index >= tracks_.size() || !tracks_[index].has_frames) return out;
  const TrackOut& t = tracks_[index];
  rtp::SenderReport report;
  report.ssrc = t.ssrc;
  report.ntp_timestamp = rtp::ntp_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(t.last_ntp_ms)));
  report.rtp_timestamp = t.last_rtp_timestamp;
  report.packet_count = static_cast<std::uint32_t>(t.packets);
  report.octet_count = static_cast<std::uint32_t>(t.octets);
  out.assign(4, 0);
  rtp::append_sender_report(out, report);
  rtp::append_sdes_cname(out, t.ssrc, "weir");
  const std::size_t size = out.size() - 4;
  out[0] = '$';
  out[1] = static_cast<std::uint8_t>(2 * index + 1);
  out[2] = static_cast<std::uint8_t>(size >> 8);
  out[3] = static_cast<std::uint8_t>(size);
  return out;
}

std::vector<std::vector<std::uint8_t>> StreamOut::goodbyes() const {
  std::vector<std::vector<std::uint8_t>> all;
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    std::vector<std::uint8_t> out(4, 0);
    const std::uint32_t ssrc = tracks_[i].ssrc;
    rtp::append_bye(out, std::span<const std::uint32_t>(&ssrc, 1));
    const std::size_t size = out.size() - 4;
    out[0] = '$';
    out[1] = static_cast<std::uint8_t>(2 * i + 1);
    out[2] = static_cast<std::uint8_t>(size >> 8);
    out[3] = static_cast<std::uint8_t>(size);
    all.push_back(std::move(out));
  }
  return all;
}

void StreamOut::on_republished() {
  gop_.clear();
  gop_bytes_ = 0;
}

}  // namespace weir::rtsp
