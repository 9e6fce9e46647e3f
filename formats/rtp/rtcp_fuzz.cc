// SPDX-License-Identifier: Apache-2.0
// Fuzz target: parse_rtcp on the whole input; whatever parses is built again (SR, RR, SDES, BYE)
// and must parse back with the same counts. The input's bytes also drive ReceiverStatistics as
// (sequence, timestamp, arrival) triples.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/rtp/rtcp.h"

using namespace weir::formats::rtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  auto parsed = parse_rtcp(input);
  if (parsed) {
    std::vector<std::uint8_t> built;
    for (const auto& sr : parsed->sender_reports) append_sender_report(built, sr);
    for (const auto& rr : parsed->receiver_reports) append_receiver_report(built, rr);
    for (const auto& c : parsed->cnames) append_sdes_cname(built, c.ssrc, c.cname);
    for (const auto& b : parsed->byes) append_bye(built, b.ssrcs, b.reason);
    if (!built.empty()) {
      auto again = parse_rtcp(built);
      if (!again || again->sender_reports.size() != parsed->sender_reports.size() ||
          again->receiver_reports.size() != parsed->receiver_reports.size() ||
          again->cnames.size() != parsed->cnames.size() || again->byes.size() != parsed->byes.size())
        __builtin_trap();
    }
  }
  ReceiverStatistics stats(1);
  auto t = std::chrono::steady_clock::time_point{};
  for (std::size_t at = 0; at + 6 <= size; at += 6) {
    auto sequence = static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]);
    std::uint32_t timestamp = std::uint32_t{data[at + 2]} << 16 | data[at + 3];
    std::uint32_t arrival = std::uint32_t{data[at + 4]} << 16 | data[at + 5];
    (void)stats.on_packet(sequence, timestamp, arrival);
    if (data[at] == 0x80) stats.on_sender_report(0x1234, t);
    if (data[at] == 0x81) (void)stats.report_block(t);
  }
  (void)stats.report_block(t);
  return 0;
}
