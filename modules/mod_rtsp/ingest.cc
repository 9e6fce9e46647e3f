// SPDX-License-Identifier: Apache-2.0
#include "ingest.h"

#include <algorithm>
#include <deque>
#include <set>

#include "formats/flv/media_tag.h"
#include "formats/rtp/rtcp.h"
#include "formats/rtp/reorder.h"
#include "formats/rtp/rtp_packet.h"
#include "formats/rtsp/fmtp.h"
#include "formats/rtsp/sdp.h"
#include "rtp_codecs.h"
#include "rtsp_group.h"
#include "session.h"

namespace weir::rtsp {
namespace fr = formats::rtsp;
namespace rtp = formats::rtp;
namespace flv = formats::flv;

namespace {
// Video with B-frames: RTP carries presentation times only; decode times are rebuilt from the
// presentation times of this many frames (a reordering depth every encoder we know stays within).
constexpr std::size_t kReorderFrames = 4;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

struct IngestTrack final : rtp::AccessUnitSink, rtp::ReleasedPacketSink {
  RtspIngest* owner = nullptr;
  std::string control;
  MediaKind kind = MediaKind::video;
  Codec codec = Codec::unknown;
  std::uint32_t clock_rate = 90000;
  int payload_type = 96;
  std::unique_ptr<InCodec> depacketizer;
  std::vector<std::uint8_t> config;  // AVC/HEVC record or AAC AudioSpecificConfig
  bool header_pushed = false;

  bool is_setup = false;
  bool udp = false;
  std::uint8_t rtp_channel = 0;
  std::uint8_t rtcp_channel = 1;
  UdpPeer rtp_peer;
  UdpPeer rtcp_peer;

  bool has_sequence = false;
  std::uint16_t last_sequence = 0;
  bool has_time = false;
  std::uint32_t last_timestamp = 0;
  std::uint64_t extended = 0;  // last_timestamp unwrapped past 32 bits
  std::uint64_t first_extended = 0;
  Clock::time_point first_arrival{};
  bool has_offset = false;
  std::int64_t offset_ms = 0;
  bool has_report = false;
  std::uint64_t report_wall_ms = 0;  // sender report: this wall time...
  std::uint32_t report_rtp = 0;      // ...matches this RTP time
  std::uint64_t packets = 0;
  std::uint64_t lost = 0;

  // Decode times of video with B-frames (see kReorderFrames).
  struct Pending {
    std::int64_t pts = 0;
    bool is_key = false;
    std::vector<std::uint8_t> data;
  };
  bool reordering = false;
  std::int64_t max_pts = 0;
  std::int64_t last_dts = 0;
  std::int64_t reorder_ms = 0;  // how far a frame presented before the latest one seen
  bool has_dts = false;
  std::deque<Pending> pending;
  std::multiset<std::int64_t> pending_pts;

  // UDP: packets may come out of order; released in order (or as losses) from a small window.
  std::unique_ptr<rtp::ReorderBuffer> reorder;
  Clock::time_point arrival{};

  void access_unit(const rtp::AccessUnit& unit) override;
  void released(std::uint16_t, std::span<const std::uint8_t> packet, std::uint32_t lost_before) override {
    owner->on_ordered_rtp(*this, packet, lost_before, arrival);
  }
};

RtspIngest::RtspIngest(IngestHost& host, StreamKey key) : session_(host), key_(std::move(key)) {}

RtspIngest::~RtspIngest() = default;  // the session unroutes the UDP peers

Status RtspIngest::describe(const std::string& text) {
  auto sdp = fr::parse_sdp(text);
  if (!sdp) return sdp.error().with_context("ANNOUNCE SDP");
  for (const fr::SdpMedia& media : sdp->media) {
    const int pt = media.first_payload_type();
    const fr::RtpMap* map = media.rtpmap(pt);
    const fr::Fmtp* fmtp = media.fmtp(pt);
    auto track = std::make_unique<IngestTrack>();
    track->owner = this;
    track->control = media.control;
    track->payload_type = pt;
    track->kind = media.type == "video" ? MediaKind::video : MediaKind::audio;
    if (map) {
      track->clock_rate = map->clock_rate ? map->clock_rate : 90000;
      const std::string& e = map->encoding;
      if (iequals(e, "H264")) track->codec = Codec::h264;
      else if (iequals(e, "H265")) track->codec = Codec::hevc;
      else if (iequals(e, "MPEG4-GENERIC") || iequals(e, "MP4A-LATM")) track->codec = Codec::aac;
      else if (iequals(e, "opus")) track->codec = Codec::opus;
      else if (iequals(e, "PCMA")) track->codec = Codec::pcma;
      else if (iequals(e, "PCMU")) track->codec = Codec::pcmu;
    } else if (pt == 0 || pt == 8) {  // static payload types need no rtpmap
      track->codec = pt == 0 ? Codec::pcmu : Codec::pcma;
      track->clock_rate = 8000;
    }
    if (!rtp_can_carry(track->codec)) {
      session_.logger().info("conn={} {}: track '{}' ({}) skipped: not a codec we take over RTSP",
                             session_.connection().id(), key_.to_string(), media.control, map ? map->encoding : media.type);
      continue;
    }
    InCodecOptions options;
    std::vector<std::vector<std::uint8_t>> nals;  // parameter sets the SDP announces
    const bool latm = map && iequals(map->encoding, "MP4A-LATM");
    if (latm) {
      // RFC 6416 with the configuration out of band (cpresent=0), as GStreamer and ffmpeg send it.
      const std::string* in_band = fmtp ? fmtp->parameter("cpresent") : nullptr;
      auto aac = fmtp ? fr::aac_parameters(*fmtp) : Result<fr::AacParameters>(error(Errc::malformed, "no fmtp line"));
      auto asc = aac && !aac->config.empty() ? latm_audio_specific_config(aac->config)
                                             : Result<std::vector<std::uint8_t>>(error(Errc::malformed, "no config"));
      if ((in_band && *in_band != "0") || !asc) {
        session_.logger().info("conn={} {}: MP4A-LATM track '{}' skipped: {}", session_.connection().id(),
                               key_.to_string(), media.control,
                               !asc ? asc.error().message() : std::string("configuration in band (cpresent=1)"));
        continue;
      }
      options.aac_latm_config = std::move(aac->config);
      track->config = std::move(*asc);
    } else if (track->codec == Codec::aac) {
      if (!fmtp) return error(Errc::malformed, "AAC track '{}' without an fmtp line", media.control);
      auto aac = fr::aac_parameters(*fmtp);
      if (!aac) return aac.error().with_context(format("AAC track '{}'", media.control));
      if (aac->config.empty()) return error(Errc::malformed, "AAC track '{}' without fmtp config", media.control);
      track->config = std::move(aac->config);
      if (aac->size_length) {  // else the AAC-hbr layout
        options.aac_size_length = static_cast<std::uint8_t>(aac->size_length);
        options.aac_index_length = static_cast<std::uint8_t>(aac->index_length);
        options.aac_index_delta_length = static_cast<std::uint8_t>(aac->index_delta_length);
      }
    } else if (fmtp && track->codec == Codec::h264) {
      auto h264 = fr::h264_parameters(*fmtp);
      if (!h264) return h264.error().with_context(format("H.264 track '{}'", media.control));
      nals = std::move(h264->sps);
      nals.insert(nals.end(), h264->pps.begin(), h264->pps.end());
    } else if (fmtp && track->codec == Codec::hevc) {
      auto hevc = fr::hevc_parameters(*fmtp);
      if (!hevc) return hevc.error().with_context(format("HEVC track '{}'", media.control));
      nals = std::move(hevc->vps);
      nals.insert(nals.end(), hevc->sps.begin(), hevc->sps.end());
      nals.insert(nals.end(), hevc->pps.begin(), hevc->pps.end());
    }
    if (track->codec == Codec::opus) {
      // Opus has no configuration in its SDP; players of other protocols expect an identification
      // header ("OpusHead", RFC 7845 5.1) as its sequence header: channels from the rtpmap.
      const std::uint8_t channels = map && map->channels == 1 ? 1 : 2;
      track->config = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, channels, 0, 0, 0x80, 0xBB, 0, 0, 0, 0, 0};
    }
    track->depacketizer = make_in_codec(track->codec, options);
    if (!track->depacketizer) continue;
    // The stream is describable before the first key frame when the SDP has the parameter sets.
    std::vector<std::span<const std::uint8_t>> spans(nals.begin(), nals.end());
    track->depacketizer->set_parameter_sets(spans);
    tracks_.push_back(std::move(track));
  }
  if (tracks_.empty()) return error(Errc::unsupported, "the SDP has no H.264, HEVC, AAC, Opus or G.711 track");
  return ok();
}

Result<std::string> RtspIngest::setup(const fr::StreamPath& path, const std::vector<fr::TransportSpec>& specs) {
  // The track by its control: "trackID=1", "streamid=1", or what the SDP said verbatim.
  IngestTrack* track = nullptr;
  for (auto& t : tracks_) {
    if (path.track && (t->control == format("trackID={}", *path.track) || t->control == format("streamid={}", *path.track) ||
                       t->control.ends_with(format("={}", *path.track))))
      track = t.get();
  }
  if (!track && path.track && static_cast<std::size_t>(*path.track) < tracks_.size()) track = tracks_[*path.track].get();
  if (!track && tracks_.size() == 1) track = tracks_.front().get();
  if (!track) return error(Errc::not_found, "SETUP of an unknown track ({})", path.name);
  const std::size_t index = static_cast<std::size_t>(std::find_if(tracks_.begin(), tracks_.end(),
                                                                  [&](auto& t) { return t.get() == track; }) - tracks_.begin());
  for (const fr::TransportSpec& spec : specs) {
    if (spec.is_multicast) continue;
    if (spec.lower == fr::LowerTransport::tcp) {
      track->is_setup = true;
      track->rtp_channel = static_cast<std::uint8_t>(spec.interleaved ? spec.interleaved->first : 2 * index);
      track->rtcp_channel = static_cast<std::uint8_t>(spec.interleaved ? spec.interleaved->last : track->rtp_channel + 1);
      return format("RTP/AVP/TCP;unicast;interleaved={}-{};mode=record", unsigned{track->rtp_channel},
                    unsigned{track->rtcp_channel});
    }
    if (!spec.client_port || !session_.group().rtp_socket()) continue;
    auto rtp_peer = UdpPeer::parse(session_.peer_host(), spec.client_port->first);
    auto rtcp_peer = UdpPeer::parse(session_.peer_host(), spec.client_port->last);
    if (!rtp_peer || !rtcp_peer) continue;
    if (!session_.route(*rtp_peer) || !session_.route(*rtcp_peer))
      return error(Errc::exists, "client ports {}-{} are already in use by another session", spec.client_port->first,
                   spec.client_port->last);
    track->is_setup = true;
    track->udp = true;
    track->reorder = std::make_unique<rtp::ReorderBuffer>();
    track->rtp_peer = *rtp_peer;
    track->rtcp_peer = *rtcp_peer;
    udp_ = true;
    const std::uint16_t port = session_.group().rtp_port();
    return format("RTP/AVP;unicast;client_port={}-{};server_port={}-{};mode=record", spec.client_port->first,
                  spec.client_port->last, port, port + 1);
  }
  return error(Errc::unsupported, "no transport we take (TCP interleaved, or UDP unicast with client_port)");
}

std::vector<std::string> RtspIngest::track_controls() const {
  std::vector<std::string> controls;
  for (const auto& track : tracks_) controls.push_back(track->control);
  return controls;
}

void RtspIngest::setup_interleaved(std::size_t index, std::uint8_t rtp_channel, std::uint8_t rtcp_channel) {
  if (index >= tracks_.size()) return;
  IngestTrack& track = *tracks_[index];
  track.is_setup = true;
  track.rtp_channel = rtp_channel;
  track.rtcp_channel = rtcp_channel;
}

bool RtspIngest::has_setup() const noexcept {
  return std::any_of(tracks_.begin(), tracks_.end(), [](const auto& t) { return t->is_setup; });
}

Status RtspIngest::start() {
  if (publication_) return ok();
  RtspGroup& group = session_.group();
  Connection& connection = session_.connection();
  if (external_) {
    publication_ = external_;
  } else {
    auto publication = group.poll_group().streams().publish(
        key_, PublishOptions{group.config().gop_cache, std::string(session_.publish_protocol()), connection.peer_address(),
                             [&connection](const Status& reason) { connection.close(reason); }});
    if (!publication) return publication.error();
    owned_ = std::move(*publication);
    publication_ = owned_.get();
  }
  // Configurations known from the SDP go out first, so players can start at the first key frame.
  for (auto& track : tracks_) {
    if (!track->is_setup) continue;
    if (track->codec == Codec::h264 || track->codec == Codec::hevc) {
      auto record = track->depacketizer->take_new_config();
      if (!record.empty()) track->config = std::move(record);
    }
    if (!track->config.empty()) push_header(*track);
  }
  return ok();
}

void RtspIngest::on_interleaved(std::uint8_t channel, std::span<const std::uint8_t> payload) noexcept {
  for (auto& track : tracks_) {
    if (!track->is_setup || track->udp) continue;
    if (channel == track->rtp_channel) return on_rtp(*track, payload, session_.group().poll_group().now());
    if (channel == track->rtcp_channel) return on_rtcp(*track, payload);
  }
}

void RtspIngest::on_datagram(const PageSlice& data, const UdpPeer& from, bool) noexcept {
  std::span<const std::uint8_t> bytes(data.data(), data.length);
  for (auto& track : tracks_) {
    if (!track->udp) continue;
    if (from == track->rtp_peer) return on_rtp(*track, bytes, session_.group().poll_group().now());
    if (from == track->rtcp_peer) return on_rtcp(*track, bytes);
  }
}

void RtspIngest::on_rtcp(IngestTrack& track, std::span<const std::uint8_t> packet) {
  auto parsed = rtp::parse_rtcp(packet);
  if (!parsed || parsed->sender_reports.empty()) return;
  const rtp::SenderReport& report = parsed->sender_reports.front();
  // NTP time (seconds since 1900, 32.32) to milliseconds since 1970.
  constexpr std::uint64_t kNtpToUnixSeconds = 2'208'988'800ull;
  const std::uint64_t seconds = report.ntp_timestamp >> 32;
  const std::uint64_t fraction_ms = ((report.ntp_timestamp & 0xFFFFFFFFull) * 1000) >> 32;
  if (seconds < kNtpToUnixSeconds) return;
  track.has_report = true;
  track.report_wall_ms = (seconds - kNtpToUnixSeconds) * 1000 + fraction_ms;
  track.report_rtp = report.rtp_timestamp;
}

void RtspIngest::on_rtp(IngestTrack& track, std::span<const std::uint8_t> bytes, Clock::time_point arrival) {
  if (!publication_) return;  // media before RECORD: nothing to publish it to yet
  RtspGroup& group = session_.group();
  if (bytes.size() < rtp::kRtpHeaderSize) {
    group.stats().add(group.counters().protocol_errors);
    return;
  }
  group.stats().add(group.counters().packets_in);
  ++track.packets;
  const auto sequence = static_cast<std::uint16_t>(bytes[2] << 8 | bytes[3]);
  if (track.reorder) {
    track.arrival = arrival;
    track.reorder->push(sequence, bytes, track);
    return;
  }
  // TCP keeps the order: a gap is a loss upstream (the publisher's own), a step back a duplicate.
  std::uint32_t lost = 0;
  if (track.has_sequence) {
    const std::int16_t delta = rtp::sequence_delta(track.last_sequence, sequence);
    if (delta <= 0) return;
    lost = static_cast<std::uint32_t>(delta - 1);
  }
  track.has_sequence = true;
  track.last_sequence = sequence;
  on_ordered_rtp(track, bytes, lost, arrival);
}

void RtspIngest::on_ordered_rtp(IngestTrack& track, std::span<const std::uint8_t> bytes, std::uint32_t lost,
                                Clock::time_point arrival) {
  RtspGroup& group = session_.group();
  auto packet = rtp::parse_rtp(bytes);
  if (!packet) {
    group.stats().add(group.counters().protocol_errors);
    return;
  }
  if (lost) {
    track.lost += lost;
    group.stats().add(group.counters().packets_lost, lost);
  }
  const std::uint32_t timestamp = packet->header.timestamp;
  if (!track.has_time) {
    track.has_time = true;
    track.extended = track.first_extended = std::uint64_t{1} << 32 | timestamp;  // room to go back a little
    track.first_arrival = arrival;
    if (!has_origin_) {
      has_origin_ = true;
      origin_ = arrival;
    }
  } else {
    track.extended += static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(timestamp - track.last_timestamp)));
  }
  track.last_timestamp = timestamp;
  Status pushed = track.depacketizer->push(*packet, lost > 0, track);
  if (!pushed) {
    group.stats().add(group.counters().protocol_errors);
    session_.logger().debug("conn={} {} RTP packet {} dropped: {}", session_.connection().id(), key_.to_string(),
                            packet->header.sequence, pushed.message());
  }
}

std::int64_t RtspIngest::to_ms(IngestTrack& track, std::uint64_t extended) {
  if (!track.has_offset) {
    track.has_offset = true;
    // Aligned by the sender reports when both this track and the first one have them; else by
    // when each track's first packet arrived.
    IngestTrack* reference = nullptr;
    for (auto& t : tracks_)
      if (t.get() != &track && t->has_offset && t->has_report) reference = t.get();
    if (reference && track.has_report) {
      auto wall_of = [](const IngestTrack& t, std::uint64_t ext) {
        auto delta = static_cast<std::int32_t>(static_cast<std::uint32_t>(ext) - t.report_rtp);
        return static_cast<std::int64_t>(t.report_wall_ms) + static_cast<std::int64_t>(delta) * 1000 / t.clock_rate;
      };
      std::int64_t reference_start = wall_of(*reference, reference->first_extended) - reference->offset_ms;
      track.offset_ms = wall_of(track, track.first_extended) - reference_start;
    } else {
      track.offset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(track.first_arrival - origin_).count();
    }
    track.offset_ms = std::max<std::int64_t>(track.offset_ms, 0);
  }
  auto ticks = static_cast<std::int64_t>(extended - track.first_extended);
  return time_offset_ms_ + track.offset_ms + ticks * 1000 / static_cast<std::int64_t>(track.clock_rate);
}

void IngestTrack::access_unit(const rtp::AccessUnit& unit) {
  // The unit's time, unwrapped against the latest packet's (a unit ends at or before it).
  auto back = static_cast<std::int32_t>(last_timestamp - unit.rtp_timestamp);
  std::uint64_t ext = extended - static_cast<std::uint64_t>(static_cast<std::int64_t>(back));
  owner->push_access_unit(*this, ext, unit.data, unit.is_key_frame);
}

void RtspIngest::push_header(IngestTrack& track) {
  if (track.config.empty() || !publication_) return;
  Result<flv::TagBodyHeader> header = track.kind == MediaKind::video
      ? (track.codec == Codec::h264 ? flv::write_legacy_video_header(track.codec, true, flv::PacketType::sequence_start)
                                    : flv::write_enhanced_video_header(track.codec, true, flv::PacketType::sequence_start))
      : (track.codec == Codec::aac ? flv::write_legacy_audio_header(track.codec, flv::PacketType::sequence_start)
                                   : flv::write_enhanced_audio_header(track.codec, flv::PacketType::sequence_start));
  if (!header) return;
  body_.assign(header->view().begin(), header->view().end());
  body_.insert(body_.end(), track.config.begin(), track.config.end());
  MediaFrame frame;
  frame.dts_ms = last_dts_;
  frame.kind = track.kind;
  frame.codec = track.codec;
  frame.flags.is_sequence_header = true;
  frame.codec_data_offset = header->size;
  if (!session_.group().ingest().append(std::span<const std::uint8_t>(body_), frame.payload)) return;
  publication_->push(std::move(frame));
  track.header_pushed = true;
}

void RtspIngest::push_access_unit(IngestTrack& track, std::uint64_t extended, std::span<const std::uint8_t> data,
                                  bool is_key) {
  if (!publication_ || data.empty()) return;
  RtspGroup& group = session_.group();
  if (track.codec == Codec::h264 || track.codec == Codec::hevc) {
    auto record = track.depacketizer->take_new_config();
    if (!record.empty() && record != track.config) {
      track.config = std::move(record);
      push_header(track);
    }
    if (!track.header_pushed) return;  // nothing decodes before the parameter sets
  } else if (!track.header_pushed && !track.config.empty()) {
    push_header(track);
  }
  const std::int64_t pts = to_ms(track, extended);

  auto emit = [&](std::int64_t frame_pts, std::int64_t dts, bool key, std::span<const std::uint8_t> bytes) {
    const std::int32_t composition = static_cast<std::int32_t>(frame_pts - dts);
    Result<flv::TagBodyHeader> header =
        track.kind == MediaKind::video
            ? (track.codec == Codec::h264 ? flv::write_legacy_video_header(track.codec, key, flv::PacketType::coded_frames, composition)
                                          : flv::write_enhanced_video_header(track.codec, key, flv::PacketType::coded_frames, composition))
            : (track.codec == Codec::aac || track.codec == Codec::pcma || track.codec == Codec::pcmu
                   ? flv::write_legacy_audio_header(track.codec, flv::PacketType::coded_frames)
                   : flv::write_enhanced_audio_header(track.codec, flv::PacketType::coded_frames));
    if (!header) return;
    body_.assign(header->view().begin(), header->view().end());
    body_.insert(body_.end(), bytes.begin(), bytes.end());
    MediaFrame frame;
    frame.dts_ms = dts;
    frame.composition_ms = composition;
    frame.kind = track.kind;
    frame.codec = track.codec;
    frame.flags.is_key_frame = track.kind == MediaKind::video && key;
    frame.codec_data_offset = header->size;
    if (!group.ingest().append(std::span<const std::uint8_t>(body_), frame.payload)) {
      session_.fail(error(Errc::limit, "page pool exhausted while ingesting a {} byte frame", body_.size()));
      return;
    }
    last_dts_ = std::max(last_dts_, dts);
    group.stats().add(group.counters().frames_in);
    publication_->push(std::move(frame));
  };

  if (track.kind != MediaKind::video) return emit(pts, pts, true, data);
  // Decode times: equal to presentation times until a frame presents before one already seen
  // (B-frames); from then on each frame's decode time is the smallest presentation time among
  // the last few less the reordering depth (the most a frame presented before the latest one),
  // which keeps decode times rising and at or before presentation.
  if (track.has_dts && pts < track.max_pts) {
    track.reordering = true;
    track.reorder_ms = std::max(track.reorder_ms, track.max_pts - pts);
  }
  track.max_pts = std::max(track.max_pts, pts);
  if (!track.reordering) {
    std::int64_t dts = track.has_dts ? std::max(pts, track.last_dts) : pts;
    track.has_dts = true;
    track.last_dts = dts;
    return emit(pts, dts, is_key, data);
  }
  track.pending.push_back({pts, is_key, std::vector<std::uint8_t>(data.begin(), data.end())});
  track.pending_pts.insert(pts);
  while (track.pending.size() > kReorderFrames) {
    IngestTrack::Pending next = std::move(track.pending.front());
    track.pending.pop_front();
    std::int64_t dts = *track.pending_pts.begin() - track.reorder_ms;
    track.pending_pts.erase(track.pending_pts.begin());
    // Rising, always (right after B-frames first show, the decode times already handed out equal
    // to presentation times are ahead: a few frames then present slightly before they decode).
    dts = std::max(dts, track.last_dts + 1);
    track.last_dts = dts;
    emit(next.pts, dts, next.is_key, next.data);
  }
}

}  // namespace weir::rtsp
