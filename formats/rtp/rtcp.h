// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTCP (RFC 3550 6): reading a compound packet (SR, RR, SDES CNAME, BYE; APP and other types
/// skipped), writing the SR + SDES, RR and BYE a server sends, and ReceiverStatistics, the
/// per-source bookkeeping of RFC 3550 A.1, A.3 and A.8 behind a report block.
///
///     common header: |V=2|P| count (5) | PT (8) | length (16, 32-bit words - 1) |
///     SR (200): ssrc, NTP (64), RTP timestamp, packet count, octet count, count × report block
///     RR (201): ssrc, count × report block
///     report block (24 bytes): ssrc, fraction lost (8), cumulative lost (24), extended highest
///                              sequence, jitter, LSR (middle 32 bits of NTP), DLSR (1/65536 s)
///
/// Thread: owner only; the parse and build functions are stateless.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtp {

/// RTCP packet types (RFC 3550 12.1).
enum class RtcpType : std::uint8_t { sender_report = 200, receiver_report = 201, sdes = 202, bye = 203, app = 204 };

/// One reception report block.
struct ReportBlock {
  std::uint32_t ssrc = 0;                ///< the source reported on
  std::uint8_t fraction_lost = 0;        ///< lost since the last report, × 256
  std::int32_t cumulative_lost = 0;      ///< 24-bit signed (duplicates can make it negative)
  std::uint32_t highest_sequence = 0;    ///< extended highest sequence number received
  std::uint32_t jitter = 0;              ///< interarrival jitter, timestamp units
  std::uint32_t last_sr = 0;             ///< LSR: middle 32 bits of the last SR's NTP time, 0 if none
  std::uint32_t delay_since_last_sr = 0; ///< DLSR, 1/65536 s
  friend bool operator==(const ReportBlock&, const ReportBlock&) = default;
};

/// A sender report (RFC 3550 6.4.1).
struct SenderReport {
  std::uint32_t ssrc = 0;
  std::uint64_t ntp_timestamp = 0;  ///< 32.32 fixed point seconds since 1900
  std::uint32_t rtp_timestamp = 0;  ///< the same instant on the RTP clock
  std::uint32_t packet_count = 0;
  std::uint32_t octet_count = 0;    ///< payload octets
  std::vector<ReportBlock> reports;
};

/// A receiver report (RFC 3550 6.4.2).
struct ReceiverReport {
  std::uint32_t ssrc = 0;
  std::vector<ReportBlock> reports;
};

/// A CNAME item of an SDES chunk (other items are skipped).
struct SdesCname {
  std::uint32_t ssrc = 0;
  std::string cname;
};

/// A BYE (RFC 3550 6.6).
struct Bye {
  std::vector<std::uint32_t> ssrcs;
  std::string reason;
};

/// What a compound packet held, in order within each kind.
struct RtcpCompound {
  std::vector<SenderReport> sender_reports;
  std::vector<ReceiverReport> receiver_reports;
  std::vector<SdesCname> cnames;
  std::vector<Bye> byes;
  std::size_t skipped_packets = 0;  ///< APP, feedback (RTPFB/PSFB), XR, unknown types
};

/// Parses a compound RTCP packet (a UDP datagram or an interleaved frame body). Every packet's
/// version must be 2 and its length must fit; the first need not be an SR/RR (some senders lead with
/// SDES). Errc::malformed naming the packet type, field and byte offset otherwise. Allocates only
/// for what the packet holds (counts are checked against the declared length first).
Result<RtcpCompound> parse_rtcp(std::span<const std::uint8_t> packet);

/// The NTP timestamp (RFC 3550 4: 32.32 seconds since 1900-01-01) of a wall-clock time.
std::uint64_t ntp_timestamp(std::chrono::system_clock::time_point time) noexcept;
/// The middle 32 bits of an NTP timestamp, as LSR carries it.
constexpr std::uint32_t ntp_middle(std::uint64_t ntp) noexcept { return static_cast<std::uint32_t>(ntp >> 16); }

/// Appends an SR with its report blocks (at most 31; more are left out) to `out`.
void append_sender_report(std::vector<std::uint8_t>& out, const SenderReport& report);
/// Appends an RR (an empty one, with no blocks, is what a sender with nothing to report sends).
void append_receiver_report(std::vector<std::uint8_t>& out, const ReceiverReport& report);
/// Appends an SDES with one chunk: the CNAME of `ssrc` (cut at 255 bytes), null-terminated and
/// padded to 32 bits.
void append_sdes_cname(std::vector<std::uint8_t>& out, std::uint32_t ssrc, std::string_view cname);
/// Appends a BYE for `ssrcs` (at most 31) with an optional reason (cut at 255 bytes).
void append_bye(std::vector<std::uint8_t>& out, std::span<const std::uint32_t> ssrcs, std::string_view reason = {});

/// Reception statistics of one source, for the report blocks of our RRs and for stats
/// (RFC 3550 A.1 sequence validation with probation, A.3 loss, A.8 jitter). Thread: owner only.
class ReceiverStatistics {
 public:
  /// Consecutive packets a new source needs before it counts (RFC 3550 A.1 MIN_SEQUENTIAL).
  static constexpr int kMinSequential = 2;

  explicit ReceiverStatistics(std::uint32_t ssrc = 0) noexcept : ssrc_(ssrc) {}

  /// One received packet. `arrival` is the arrival time in RTP timestamp units (any origin, the
  /// same for every call). Returns false while the source is on probation or for a packet A.1
  /// rejects (a big jump not yet confirmed); such packets are not counted.
  bool on_packet(std::uint16_t sequence, std::uint32_t rtp_timestamp, std::uint32_t arrival) noexcept;

  /// A sender report from this source arrived at `arrival` (for LSR/DLSR).
  void on_sender_report(std::uint64_t ntp, std::chrono::steady_clock::time_point arrival) noexcept;

  /// The report block as of `now`; updates the interval counters behind fraction_lost, so call it
  /// once per report sent.
  ReportBlock report_block(std::chrono::steady_clock::time_point now) noexcept;

  std::uint32_t ssrc() const noexcept { return ssrc_; }
  std::uint64_t received() const noexcept { return received_; }
  /// Expected minus received since the first valid packet; negative with duplicates.
  std::int64_t lost() const noexcept { return static_cast<std::int64_t>(expected()) - static_cast<std::int64_t>(received_); }
  std::uint64_t expected() const noexcept;
  std::uint32_t extended_highest_sequence() const noexcept { return cycles_ + max_seq_; }
  /// Interarrival jitter in timestamp units (A.8).
  std::uint32_t jitter() const noexcept { return static_cast<std::uint32_t>(jitter_ >> 4); }

 private:
  void init_sequence(std::uint16_t sequence) noexcept;
  void update_jitter(std::uint32_t rtp_timestamp, std::uint32_t arrival) noexcept;

  std::uint32_t ssrc_;
  bool has_packets_ = false;
  std::uint16_t max_seq_ = 0;
  std::uint32_t cycles_ = 0;     // shifted count of wraps (multiples of 65536)
  std::uint32_t base_seq_ = 0;
  std::uint32_t bad_seq_ = 0x10001;  // RTP_SEQ_MOD + 1: none
  int probation_ = kMinSequential;
  std::uint64_t received_ = 0;
  std::uint64_t expected_prior_ = 0;
  std::uint64_t received_prior_ = 0;
  bool has_transit_ = false;
  std::int64_t transit_ = 0;
  std::uint64_t jitter_ = 0;     // × 16, as A.8 keeps it
  std::uint32_t last_sr_ = 0;
  bool has_sr_ = false;
  std::chrono::steady_clock::time_point last_sr_arrival_{};
};

}  // namespace weir::formats::rtp
