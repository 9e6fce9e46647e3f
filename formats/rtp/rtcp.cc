// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtcp.h"

#include <algorithm>

#include "formats/rtp/bytes.h"

namespace weir::formats::rtp {

using detail::load_u16;
using detail::load_u24;
using detail::load_u32;
using detail::load_u64;

namespace {

constexpr std::size_t kReportBlockSize = 24;

ReportBlock read_block(const std::uint8_t* p) noexcept {
  ReportBlock b;
  b.ssrc = load_u32(p);
  b.fraction_lost = p[4];
  std::uint32_t lost = load_u24(p + 5);
  b.cumulative_lost = (lost & 0x800000u) ? static_cast<std::int32_t>(lost) - 0x1000000 : static_cast<std::int32_t>(lost);
  b.highest_sequence = load_u32(p + 8);
  b.jitter = load_u32(p + 12);
  b.last_sr = load_u32(p + 16);
  b.delay_since_last_sr = load_u32(p + 20);
  return b;
}

Status read_blocks(std::vector<ReportBlock>& out, std::span<const std::uint8_t> body, std::size_t at,
                   unsigned count, std::size_t packet_offset, const char* name) {
  if (body.size() < at + kReportBlockSize * count)
    return error(Errc::malformed, "rtcp {} at offset {}: {} report blocks need {} bytes, the packet has {}", name,
                 packet_offset, count, at + kReportBlockSize * count, body.size());
  out.reserve(count);
  for (unsigned i = 0; i < count; ++i) out.push_back(read_block(&body[at + kReportBlockSize * i]));
  return ok();
}

Status read_sdes(RtcpCompound& out, std::span<const std::uint8_t> body, unsigned chunks, std::size_t offset) {
  std::size_t at = 0;
  for (unsigned c = 0; c < chunks; ++c) {
    if (body.size() - at < 4)
      return error(Errc::malformed, "rtcp sdes at offset {}: chunk {} ssrc at body offset {} past the end", offset,
                   c, at);
    std::uint32_t ssrc = load_u32(&body[at]);
    at += 4;
    while (true) {
      if (at >= body.size())
        return error(Errc::malformed, "rtcp sdes at offset {}: chunk {} has no end item", offset, c);
      std::uint8_t type = body[at];
      if (type == 0) {
        at = (at + 4) & ~std::size_t{3};  // the null item, then padding to the next 32-bit word
        break;
      }
      if (body.size() - at < 2 || body[at + 1] > body.size() - at - 2)
        return error(Errc::malformed, "rtcp sdes at offset {}: item {} at body offset {} runs past the end", offset,
                     int{type}, at);
      std::size_t length = body[at + 1];
      if (type == 1) out.cnames.push_back(SdesCname{ssrc, std::string(body.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                                                      body.begin() + static_cast<std::ptrdiff_t>(at + 2 + length))});
      at += 2 + length;
    }
  }
  return ok();
}

void put_header(std::vector<std::uint8_t>& out, std::size_t start, unsigned count, RtcpType type) {
  std::size_t words = (out.size() - start) / 4 - 1;
  out[start] = static_cast<std::uint8_t>(0x80 | (count & 31));
  out[start + 1] = static_cast<std::uint8_t>(type);
  detail::store_u16(&out[start + 2], static_cast<std::uint32_t>(words));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  std::uint8_t b[4];
  detail::store_u32(b, v);
  out.insert(out.end(), b, b + 4);
}

void put_blocks(std::vector<std::uint8_t>& out, std::span<const ReportBlock> blocks) {
  for (const ReportBlock& b : blocks) {
    put_u32(out, b.ssrc);
    std::int32_t lost = std::clamp<std::int32_t>(b.cumulative_lost, -0x800000, 0x7fffff);
    put_u32(out, std::uint32_t{b.fraction_lost} << 24 | (static_cast<std::uint32_t>(lost) & 0xffffffu));
    put_u32(out, b.highest_sequence);
    put_u32(out, b.jitter);
    put_u32(out, b.last_sr);
    put_u32(out, b.delay_since_last_sr);
  }
}

}  // namespace

Result<RtcpCompound> parse_rtcp(std::span<const std::uint8_t> packet) {
  RtcpCompound out;
  if (packet.empty()) return error(Errc::malformed, "rtcp packet of 0 bytes");
  for (std::size_t at = 0; at < packet.size();) {
    if (packet.size() - at < 4)
      return error(Errc::malformed, "rtcp header at offset {} runs past the {}-byte packet", at, packet.size());
    const std::uint8_t* p = &packet[at];
    if ((p[0] >> 6) != 2) return error(Errc::malformed, "rtcp version {} at offset {}, expected 2", p[0] >> 6, at);
    const unsigned count = p[0] & 31u;
    const unsigned type = p[1];
    const std::size_t length = (std::size_t{load_u16(p + 2)} + 1) * 4;
    if (length > packet.size() - at)
      return error(Errc::malformed, "rtcp packet type {} at offset {}: length {} bytes, {} left", type, at, length,
                   packet.size() - at);
    auto body = packet.subspan(at + 4, length - 4);
    if (p[0] & 0x20) {  // padding: its count is the last byte of this packet
      std::size_t padding = packet[at + length - 1];
      if (padding == 0 || padding > body.size())
        return error(Errc::malformed, "rtcp packet type {} at offset {}: padding {} of {} bytes", type, at, padding,
                     body.size());
      body = body.first(body.size() - padding);
    }
    switch (static_cast<RtcpType>(type)) {
      case RtcpType::sender_report: {
        if (body.size() < 24)
          return error(Errc::malformed, "rtcp sender report at offset {}: {} bytes, sender info needs 24", at,
                       body.size());
        SenderReport sr;
        sr.ssrc = load_u32(&body[0]);
        sr.ntp_timestamp = load_u64(&body[4]);
        sr.rtp_timestamp = load_u32(&body[12]);
        sr.packet_count = load_u32(&body[16]);
        sr.octet_count = load_u32(&body[20]);
        WEIR_TRY(read_blocks(sr.reports, body, 24, count, at, "sender report"));
        out.sender_reports.push_back(std::move(sr));
        break;
      }
      case RtcpType::receiver_report: {
        if (body.size() < 4)
          return error(Errc::malformed, "rtcp receiver report at offset {}: {} bytes, no ssrc", at, body.size());
        ReceiverReport rr;
        rr.ssrc = load_u32(&body[0]);
        WEIR_TRY(read_blocks(rr.reports, body, 4, count, at, "receiver report"));
        out.receiver_reports.push_back(std::move(rr));
        break;
      }
      case RtcpType::sdes: WEIR_TRY(read_sdes(out, body, count, at)); break;
      case RtcpType::bye: {
        if (body.size() < 4 * std::size_t{count})
          return error(Errc::malformed, "rtcp bye at offset {}: {} ssrcs need {} bytes, the packet has {}", at, count,
                       4 * count, body.size());
        Bye bye;
        for (unsigned i = 0; i < count; ++i) bye.ssrcs.push_back(load_u32(&body[4 * i]));
        std::size_t reason_at = 4 * std::size_t{count};
        if (reason_at < body.size()) {
          std::size_t reason_length = body[reason_at];
          if (reason_length > body.size() - reason_at - 1)
            return error(Errc::malformed, "rtcp bye at offset {}: reason of {} bytes runs past the end", at,
                         reason_length);
          bye.reason.assign(body.begin() + static_cast<std::ptrdiff_t>(reason_at + 1),
                            body.begin() + static_cast<std::ptrdiff_t>(reason_at + 1 + reason_length));
        }
        out.byes.push_back(std::move(bye));
        break;
      }
      default: ++out.skipped_packets; break;
    }
    at += length;
  }
  return out;
}

std::uint64_t ntp_timestamp(std::chrono::system_clock::time_point time) noexcept {
  constexpr std::uint64_t kUnixToNtpSeconds = 2208988800u;  // 1900-01-01 to 1970-01-01
  auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::uint64_t>(since_epoch / 1000000000);
  auto nanos = static_cast<std::uint64_t>(since_epoch % 1000000000);
  return (seconds + kUnixToNtpSeconds) << 32 | (nanos << 32) / 1000000000u;
}

void append_sender_report(std::vector<std::uint8_t>& out, const SenderReport& report) {
  std::size_t start = out.size();
  std::size_t blocks = std::min<std::size_t>(report.reports.size(), 31);
  out.resize(start + 4);
  put_u32(out, report.ssrc);
  put_u32(out, static_cast<std::uint32_t>(report.ntp_timestamp >> 32));
  put_u32(out, static_cast<std::uint32_t>(report.ntp_timestamp));
  put_u32(out, report.rtp_timestamp);
  put_u32(out, report.packet_count);
  put_u32(out, report.octet_count);
  put_blocks(out, std::span(report.reports).first(blocks));
  put_header(out, start, static_cast<unsigned>(blocks), RtcpType::sender_report);
}

void append_receiver_report(std::vector<std::uint8_t>& out, const ReceiverReport& report) {
  std::size_t start = out.size();
  std::size_t blocks = std::min<std::size_t>(report.reports.size(), 31);
  out.resize(start + 4);
  put_u32(out, report.ssrc);
  put_blocks(out, std::span(report.reports).first(blocks));
  put_header(out, start, static_cast<unsigned>(blocks), RtcpType::receiver_report);
}

void append_sdes_cname(std::vector<std::uint8_t>& out, std::uint32_t ssrc, std::string_view cname) {
  std::size_t start = out.size();
  cname = cname.substr(0, 255);
  out.resize(start + 4);
  put_u32(out, ssrc);
  out.push_back(1);  // CNAME
  out.push_back(static_cast<std::uint8_t>(cname.size()));
  out.insert(out.end(), cname.begin(), cname.end());
  out.push_back(0);                           // end of the item list
  while ((out.size() - start) % 4) out.push_back(0);  // to 32 bits
  put_header(out, start, 1, RtcpType::sdes);
}

void append_bye(std::vector<std::uint8_t>& out, std::span<const std::uint32_t> ssrcs, std::string_view reason) {
  std::size_t start = out.size();
  ssrcs = ssrcs.first(std::min<std::size_t>(ssrcs.size(), 31));
  reason = reason.substr(0, 255);
  out.resize(start + 4);
  for (std::uint32_t ssrc : ssrcs) put_u32(out, ssrc);
  if (!reason.empty()) {
    out.push_back(static_cast<std::uint8_t>(reason.size()));
    out.insert(out.end(), reason.begin(), reason.end());
    while ((out.size() - start) % 4) out.push_back(0);
  }
  put_header(out, start, static_cast<unsigned>(ssrcs.size()), RtcpType::bye);
}

// --- ReceiverStatistics: RFC 3550 A.1, A.3, A.8 ---

void ReceiverStatistics::init_sequence(std::uint16_t sequence) noexcept {
  base_seq_ = sequence;
  max_seq_ = sequence;
  bad_seq_ = 0x10001;
  cycles_ = 0;
  received_ = 0;
  received_prior_ = 0;
  expected_prior_ = 0;
}

bool ReceiverStatistics::on_packet(std::uint16_t sequence, std::uint32_t rtp_timestamp, std::uint32_t arrival) noexcept {
  constexpr std::uint32_t kSeqMod = 0x10000, kMaxDropout = 3000, kMaxMisorder = 100;
  if (!has_packets_) {
    has_packets_ = true;
    init_sequence(sequence);
    max_seq_ = static_cast<std::uint16_t>(sequence - 1);
    probation_ = kMinSequential;
  }
  const std::uint16_t udelta = static_cast<std::uint16_t>(sequence - max_seq_);
  if (probation_ > 0) {
    if (sequence == static_cast<std::uint16_t>(max_seq_ + 1)) {
      --probation_;
      max_seq_ = sequence;
      if (probation_ == 0) {
        init_sequence(sequence);
        ++received_;
        update_jitter(rtp_timestamp, arrival);
        return true;
      }
    } else {
      probation_ = kMinSequential - 1;
      max_seq_ = sequence;
    }
    return false;
  }
  if (udelta < kMaxDropout) {
    if (sequence < max_seq_) cycles_ += kSeqMod;  // wrapped
    max_seq_ = sequence;
  } else if (udelta <= kSeqMod - kMaxMisorder) {
    if (sequence == bad_seq_) {
      init_sequence(sequence);  // two in a row after a jump: the sender restarted
    } else {
      bad_seq_ = (sequence + 1u) & (kSeqMod - 1);
      return false;
    }
  }
  // else: a duplicate or a reordered packet, counted as received (A.1 does too).
  ++received_;
  update_jitter(rtp_timestamp, arrival);
  return true;
}

void ReceiverStatistics::update_jitter(std::uint32_t rtp_timestamp, std::uint32_t arrival) noexcept {
  // A.8: J += (|D| - J) / 16, kept × 16 to stay in integers.
  const auto transit = static_cast<std::int64_t>(static_cast<std::int32_t>(arrival - rtp_timestamp));
  if (has_transit_) {
    std::int64_t d = transit - transit_;
    if (d < 0) d = -d;
    jitter_ = jitter_ + static_cast<std::uint64_t>(d) - ((jitter_ + 8) >> 4);
  }
  has_transit_ = true;
  transit_ = transit;
}

std::uint64_t ReceiverStatistics::expected() const noexcept {
  if (!has_packets_ || probation_ > 0) return 0;
  return std::uint64_t{cycles_} + max_seq_ - base_seq_ + 1;
}

void ReceiverStatistics::on_sender_report(std::uint64_t ntp, std::chrono::steady_clock::time_point arrival) noexcept {
  has_sr_ = true;
  last_sr_ = ntp_middle(ntp);
  last_sr_arrival_ = arrival;
}

ReportBlock ReceiverStatistics::report_block(std::chrono::steady_clock::time_point now) noexcept {
  ReportBlock block;
  block.ssrc = ssrc_;
  const std::uint64_t expected_now = expected();
  const std::int64_t lost_total = lost();
  block.cumulative_lost = static_cast<std::int32_t>(std::clamp<std::int64_t>(lost_total, -0x800000, 0x7fffff));
  block.highest_sequence = extended_highest_sequence();
  block.jitter = jitter();
  const std::int64_t expected_interval = static_cast<std::int64_t>(expected_now - expected_prior_);
  const std::int64_t received_interval = static_cast<std::int64_t>(received_ - received_prior_);
  expected_prior_ = expected_now;
  received_prior_ = received_;
  const std::int64_t lost_interval = expected_interval - received_interval;
  block.fraction_lost = expected_interval == 0 || lost_interval <= 0
                            ? 0
                            : static_cast<std::uint8_t>(std::min<std::int64_t>((lost_interval << 8) / expected_interval, 255));
  if (has_sr_) {
    block.last_sr = last_sr_;
    auto since = std::chrono::duration_cast<std::chrono::microseconds>(now - last_sr_arrival_).count();
    block.delay_since_last_sr = since <= 0 ? 0 : static_cast<std::uint32_t>((static_cast<std::uint64_t>(since) << 16) / 1000000);
  }
  return block;
}

}  // namespace weir::formats::rtp
