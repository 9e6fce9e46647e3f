// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/nal_units.h"

#include <algorithm>
#include <utility>

#include "formats/rtp/bytes.h"

namespace weir::formats::rtp::detail {
namespace {

// NAL unit and payload structure types (RFC 6184 5.2, RFC 7798 4.4, H.264 7.4.1, H.265 7.4.2.2).
constexpr unsigned kAvcIdr = 5, kAvcSps = 7, kAvcPps = 8, kAvcAud = 9;
constexpr unsigned kAvcStapA = 24, kAvcFuA = 28;
constexpr unsigned kHevcIrapFirst = 16, kHevcIrapLast = 23;
constexpr unsigned kHevcVps = 32, kHevcSps = 33, kHevcPps = 34, kHevcAud = 35;
constexpr unsigned kHevcAp = 48, kHevcFu = 49;

bool is_key(NalCodec codec, unsigned type) noexcept {
  return codec == NalCodec::h264 ? type == kAvcIdr : type >= kHevcIrapFirst && type <= kHevcIrapLast;
}
// Index into NalDepacketizer::sets_ (0 VPS, 1 SPS, 2 PPS), -1 for other types.
int parameter_set_index(NalCodec codec, unsigned type) noexcept {
  if (codec == NalCodec::h264) return type == kAvcSps ? 1 : type == kAvcPps ? 2 : -1;
  return type == kHevcVps ? 0 : type == kHevcSps ? 1 : type == kHevcPps ? 2 : -1;
}

}  // namespace

// --- NalPacketizer ---

NalPacketizer::NalPacketizer(NalCodec codec, std::size_t max_payload) noexcept
    // Below 8 bytes a fragment would carry almost nothing; the floor also keeps the arithmetic sane.
    : codec_(codec), max_payload_(std::max<std::size_t>(max_payload, 8)) {}

void NalPacketizer::set_parameter_sets(std::vector<std::vector<std::uint8_t>> sets) {
  sets.erase(std::remove_if(sets.begin(), sets.end(), [&](const auto& s) { return s.size() < header_size(); }),
             sets.end());
  parameter_sets_ = std::move(sets);
}

unsigned NalPacketizer::type_of(std::span<const std::uint8_t> nal) const noexcept {
  return codec_ == NalCodec::h264 ? nal[0] & 0x1fu : (nal[0] >> 1) & 0x3fu;
}

Status NalPacketizer::packetize(std::span<const std::uint8_t> access_unit, std::uint8_t nal_length_size,
                                PayloadSink& sink) {
  if (nal_length_size < 1 || nal_length_size > 4)
    return error(Errc::unsupported, "nal length size {}, expected 1 to 4", int{nal_length_size});
  // First the whole unit is split and checked, so that a bad one sends nothing.
  nals_.clear();
  bool has_key = false;
  unsigned sets_seen = 0;  // bit per parameter set kind present
  for (std::size_t at = 0; at < access_unit.size();) {
    if (access_unit.size() - at < nal_length_size)
      return error(Errc::malformed, "nal length prefix at offset {} runs past the {}-byte access unit", at,
                   access_unit.size());
    std::size_t length = 0;
    for (std::size_t i = 0; i < nal_length_size; ++i) length = length << 8 | access_unit[at + i];
    at += nal_length_size;
    if (length > access_unit.size() - at)
      return error(Errc::malformed, "nal unit of {} bytes at offset {} runs past the {}-byte access unit", length,
                   at - nal_length_size, access_unit.size());
    auto nal = access_unit.subspan(at, length);
    at += length;
    if (nal.size() < header_size()) continue;  // empty: nothing to send
    unsigned type = type_of(nal);
    // Access unit delimiters go: over RTP the marker bit and the timestamp delimit access units,
    // and dropping them saves a packet (or aggregation bytes) per frame. Receivers do not need them.
    if (type == (codec_ == NalCodec::h264 ? kAvcAud : kHevcAud)) continue;
    has_key = has_key || is_key(codec_, type);
    int set = parameter_set_index(codec_, type);
    if (set >= 0) sets_seen |= 1u << set;
    nals_.push_back(nal);
  }
  unsigned sets_needed = codec_ == NalCodec::h264 ? 0b110u : 0b111u;
  if (has_key && !parameter_sets_.empty() && (sets_seen & sets_needed) != sets_needed) {
    // The decoder configuration's sets go first, so a player joining at this key frame (or one that
    // ignores sprop-parameter-sets) can decode it.
    nals_.insert(nals_.begin(), parameter_sets_.size(), {});
    for (std::size_t i = 0; i < parameter_sets_.size(); ++i) nals_[i] = parameter_sets_[i];
  }

  const std::size_t aggregate_header = header_size();
  for (std::size_t i = 0; i < nals_.size();) {
    if (nals_[i].size() > max_payload_) {
      send_fragments(nals_[i], i + 1 == nals_.size(), sink);
      ++i;
      continue;
    }
    std::size_t end = i;
    std::size_t bytes = aggregate_header;
    while (end < nals_.size() && bytes + 2 + nals_[end].size() <= max_payload_) bytes += 2 + nals_[end++].size();
    if (end - i >= 2) {
      send_aggregate(i, end, end == nals_.size(), sink);
      i = end;
    } else {
      send_single(nals_[i], i + 1 == nals_.size(), sink);
      ++i;
    }
  }
  return ok();
}

void NalPacketizer::send_single(std::span<const std::uint8_t> nal, bool marker, PayloadSink& sink) {
  pieces_.assign(1, nal);
  sink.packet(pieces_, marker);
}

// STAP-A (RFC 6184 5.7.1) / AP (RFC 7798 4.4.2): a payload header, then each NAL unit after a
// 16-bit size. The sizes live in scratch_, filled whole before any span into it is taken.
void NalPacketizer::send_aggregate(std::size_t first, std::size_t end, bool marker, PayloadSink& sink) {
  scratch_.assign(header_size() + 2 * (end - first), 0);
  if (codec_ == NalCodec::h264) {
    std::uint8_t forbidden = 0, nri = 0;
    for (std::size_t i = first; i < end; ++i) {
      forbidden |= nals_[i][0] & 0x80;
      nri = std::max<std::uint8_t>(nri, nals_[i][0] & 0x60);
    }
    scratch_[0] = static_cast<std::uint8_t>(forbidden | nri | kAvcStapA);
  } else {
    // F is the OR of the F bits, LayerId and TID the lowest of the aggregated units (RFC 7798 4.4.2).
    unsigned forbidden = 0, layer = 63, tid = 7;
    for (std::size_t i = first; i < end; ++i) {
      forbidden |= nals_[i][0] & 0x80u;
      layer = std::min(layer, (nals_[i][0] & 1u) << 5 | nals_[i][1] >> 3);
      tid = std::min(tid, nals_[i][1] & 7u);
    }
    scratch_[0] = static_cast<std::uint8_t>(forbidden | kHevcAp << 1 | layer >> 5);
    scratch_[1] = static_cast<std::uint8_t>((layer & 31u) << 3 | tid);
  }
  pieces_.clear();
  pieces_.push_back(std::span<const std::uint8_t>(scratch_).first(header_size()));
  for (std::size_t i = first; i < end; ++i) {
    std::uint8_t* size = &scratch_[header_size() + 2 * (i - first)];
    store_u16(size, static_cast<std::uint32_t>(nals_[i].size()));
    pieces_.push_back(std::span<const std::uint8_t>(size, 2));
    pieces_.push_back(nals_[i]);
  }
  sink.packet(pieces_, marker);
}

// FU-A (RFC 6184 5.8) / FU (RFC 7798 4.4.3): the NAL header is replaced by a payload header and an
// FU header holding start/end bits and the original type; the rest is cut in max-size pieces.
void NalPacketizer::send_fragments(std::span<const std::uint8_t> nal, bool marker, PayloadSink& sink) {
  const std::size_t fu_header = header_size() + 1;
  std::uint8_t header[3];
  std::uint8_t& fu = header[fu_header - 1];
  if (codec_ == NalCodec::h264) {
    header[0] = static_cast<std::uint8_t>((nal[0] & 0xe0) | kAvcFuA);
    fu = nal[0] & 0x1f;
  } else {
    header[0] = static_cast<std::uint8_t>((nal[0] & 0x81) | kHevcFu << 1);
    header[1] = nal[1];
    fu = (nal[0] >> 1) & 0x3f;
  }
  const std::uint8_t type = fu;
  auto body = nal.subspan(header_size());
  const std::size_t chunk = max_payload_ - fu_header;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    std::size_t size = std::min(chunk, body.size() - at);
    bool is_first = at == 0, is_last = at + size == body.size();
    fu = static_cast<std::uint8_t>((is_first ? 0x80 : 0) | (is_last ? 0x40 : 0) | type);
    pieces_.clear();
    pieces_.push_back(std::span<const std::uint8_t>(header, fu_header));
    pieces_.push_back(body.subspan(at, size));
    sink.packet(pieces_, marker && is_last);
  }
}

// --- NalDepacketizer ---

NalDepacketizer::NalDepacketizer(NalCodec codec, std::size_t max_access_unit_bytes) noexcept
    : codec_(codec), max_bytes_(max_access_unit_bytes) {}

void NalDepacketizer::set_parameter_set(std::span<const std::uint8_t> nal) {
  std::size_t header = codec_ == NalCodec::h264 ? 1 : 2;
  if (nal.size() < header) return;
  unsigned type = codec_ == NalCodec::h264 ? nal[0] & 0x1fu : (nal[0] >> 1) & 0x3fu;
  int index = parameter_set_index(codec_, type);
  if (index < 0) return;
  auto& set = sets_[index];
  if (std::equal(set.begin(), set.end(), nal.begin(), nal.end())) return;
  set.assign(nal.begin(), nal.end());
  sets_changed_ = true;
}

void NalDepacketizer::break_unit(Broken why) noexcept {
  if (broken_ == Broken::no) broken_ = why;
  unit_.clear();
  in_fragment_ = false;
}

Status NalDepacketizer::fail(Broken why, Status status) noexcept {
  break_unit(why);
  return status;
}

bool NalDepacketizer::reserve(std::size_t bytes) noexcept {
  if (bytes > max_bytes_ - std::min(max_bytes_, unit_.size())) {
    break_unit(Broken::oversize);
    return false;
  }
  return true;
}

void NalDepacketizer::note_nal(std::span<const std::uint8_t> nal) noexcept {
  unsigned type = codec_ == NalCodec::h264 ? nal[0] & 0x1fu : (nal[0] >> 1) & 0x3fu;
  is_key_ = is_key_ || is_key(codec_, type);
  if (parameter_set_index(codec_, type) >= 0) set_parameter_set(nal);
}

Status NalDepacketizer::append_nal(std::span<const std::uint8_t> nal) {
  if (in_fragment_)  // a whole NAL unit while a fragmented one is open: its end was lost
    return fail(Broken::lost, ok());
  if (!reserve(4 + nal.size())) return ok();
  std::uint8_t length[4];
  store_u32(length, static_cast<std::uint32_t>(nal.size()));
  unit_.insert(unit_.end(), length, length + 4);
  unit_.insert(unit_.end(), nal.begin(), nal.end());
  note_nal(nal);
  return ok();
}

Status NalDepacketizer::push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink) {
  // A loss breaks the unit in progress (its tail may be gone) and the one this packet belongs to
  // (its head may be gone): neither can be told complete, so both are dropped, the stream goes on.
  if (follows_loss && is_open_) break_unit(Broken::lost);
  if (is_open_ && packet.header.timestamp != timestamp_) finish(sink);  // the marker packet was lost or not sent
  if (!is_open_) {
    is_open_ = true;
    timestamp_ = packet.header.timestamp;
    if (follows_loss) broken_ = Broken::lost;
  }
  Status status = broken_ == Broken::no ? parse_payload(packet.payload) : ok();
  if (packet.header.marker) finish(sink);
  return status;
}

void NalDepacketizer::flush(AccessUnitSink& sink) {
  if (is_open_) finish(sink);
}

void NalDepacketizer::finish(AccessUnitSink& sink) {
  if (in_fragment_) break_unit(Broken::lost);  // a fragmented NAL unit without its end
  switch (broken_) {
    case Broken::no:
      if (!unit_.empty()) {
        ++counters_.access_units;
        sink.access_unit(AccessUnit{timestamp_, unit_, is_key_});
      }
      break;
    case Broken::lost: ++counters_.dropped_lost; break;
    case Broken::oversize: ++counters_.dropped_oversize; break;
    case Broken::malformed: ++counters_.dropped_malformed; break;
  }
  unit_.clear();
  is_open_ = false;
  is_key_ = false;
  broken_ = Broken::no;
  in_fragment_ = false;
}

Status NalDepacketizer::parse_payload(std::span<const std::uint8_t> payload) {
  const bool avc = codec_ == NalCodec::h264;
  const std::size_t header = avc ? 1 : 2;
  const char* name = avc ? "h264" : "hevc";
  if (payload.size() < header)
    return fail(Broken::malformed, error(Errc::malformed, "{} rtp payload of {} bytes, no payload header", name,
                                         payload.size()));
  const unsigned type = avc ? payload[0] & 0x1fu : (payload[0] >> 1) & 0x3fu;
  const unsigned aggregate = avc ? kAvcStapA : kHevcAp;
  const unsigned fragment = avc ? kAvcFuA : kHevcFu;

  if ((avc && type >= 1 && type <= 23) || (!avc && type < kHevcAp)) return append_nal(payload);

  if (type == aggregate) {
    // DONL fields are absent: we offer and accept no sprop-max-don-diff (RFC 7798 4.4.2).
    for (std::size_t at = header; at < payload.size();) {
      if (payload.size() - at < 2)
        return fail(Broken::malformed, error(Errc::malformed, "{} aggregation packet: nal size at offset {} runs "
                                             "past the {}-byte payload", name, at, payload.size()));
      std::size_t size = load_u16(&payload[at]);
      if (size < header || size > payload.size() - at - 2)
        return fail(Broken::malformed, error(Errc::malformed, "{} aggregation packet: nal size {} at offset {} "
                                             "with {} bytes left", name, size, at, payload.size() - at - 2));
      WEIR_TRY(append_nal(payload.subspan(at + 2, size)));
      if (broken_ != Broken::no) return ok();
      at += 2 + size;
    }
    return ok();
  }

  if (type == fragment) {
    if (payload.size() < header + 1)
      return fail(Broken::malformed, error(Errc::malformed, "{} fragmentation unit of {} bytes, no fu header",
                                           name, payload.size()));
    const std::uint8_t fu = payload[header];
    const bool is_start = (fu & 0x80) != 0, is_end = (fu & 0x40) != 0;
    auto body = payload.subspan(header + 1);
    if (is_start) {
      if (in_fragment_) return fail(Broken::lost, ok());  // the previous one never ended
      std::uint8_t nal_header[2];
      if (avc) {
        nal_header[0] = static_cast<std::uint8_t>((payload[0] & 0xe0) | (fu & 0x1f));
      } else {
        nal_header[0] = static_cast<std::uint8_t>((payload[0] & 0x81) | (fu & 0x3f) << 1);
        nal_header[1] = payload[1];
      }
      if (!reserve(4 + header + body.size())) return ok();
      fragment_at_ = unit_.size();
      unit_.resize(unit_.size() + 4);  // the length, written at the end bit
      unit_.insert(unit_.end(), nal_header, nal_header + header);
      in_fragment_ = true;
    } else {
      if (!in_fragment_) return fail(Broken::lost, ok());  // its start was lost
      if (!reserve(body.size())) return ok();
    }
    unit_.insert(unit_.end(), body.begin(), body.end());
    if (is_end) {
      std::size_t nal_size = unit_.size() - fragment_at_ - 4;
      store_u32(&unit_[fragment_at_], static_cast<std::uint32_t>(nal_size));
      in_fragment_ = false;
      note_nal(std::span<const std::uint8_t>(unit_).subspan(fragment_at_ + 4));
    }
    return ok();
  }

  if (avc && (type == 25 || type == 26 || type == 27 || type == 29)) {
    // STAP-B, MTAP16, MTAP24, FU-B exist only in interleaved mode, which we never offer.
    ++counters_.ignored_packets;
    return fail(Broken::malformed, error(Errc::unsupported, "h264 payload type {} (interleaved mode) not supported",
                                         type));
  }
  // Reserved types (H.264 0, 30, 31; HEVC 50 PACI and 51-63) are to be ignored (RFC 6184 5.4,
  // RFC 7798 4.4).
  ++counters_.ignored_packets;
  return ok();
}

}  // namespace weir::formats::rtp::detail
