// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtcp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir::formats::rtp {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A compound packet laid out by hand from RFC 3550 6.4.2, 6.5, 6.6 and 6.7: an RR with one block
// (cumulative lost -1: a duplicate), SDES with a CNAME and a NOTE item, an APP, a BYE with a reason.
const Bytes kCompound = {
    0x81, 201, 0x00, 0x07,                            // RR, 1 block, 8 words
    0x01, 0x02, 0x03, 0x04,                           // reporter ssrc
    0xaa, 0xbb, 0xcc, 0xdd,                           // block: source
    0x40, 0xff, 0xff, 0xff,                           // fraction 64/256, cumulative -1
    0x00, 0x01, 0x00, 0x10,                           // cycles 1, highest 16
    0x00, 0x00, 0x00, 0x2a,                           // jitter 42
    0x12, 0x34, 0x56, 0x78,                           // LSR
    0x00, 0x01, 0x80, 0x00,                           // DLSR 1.5 s
    0x81, 202, 0x00, 0x07,                            // SDES, 1 chunk, 8 words
    0x01, 0x02, 0x03, 0x04,                           // ssrc
    0x01, 0x10, 'u', 's', 'e', 'r', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',  // CNAME
    0x07, 0x02, 'h', 'i',                             // NOTE, skipped
    0x00, 0x00,                                       // end, pad to the word
    0x80, 204, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04, 'n', 'a', 'm', 'e',  // APP, skipped
    0x81, 203, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04,    // BYE, 1 ssrc, 4 words
    0x06, 'c', 'l', 'o', 's', 'e', 'd', 0x00,         // reason, padded
};

TEST(Rtcp, ParsesACompoundPacketLaidOutAsRfc3550Says) {
  auto parsed = parse_rtcp(kCompound);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->receiver_reports.size(), 1u);
  const ReceiverReport& rr = parsed->receiver_reports[0];
  EXPECT_EQ(rr.ssrc, 0x01020304u);
  ASSERT_EQ(rr.reports.size(), 1u);
  EXPECT_EQ(rr.reports[0].ssrc, 0xaabbccddu);
  EXPECT_EQ(rr.reports[0].fraction_lost, 64);
  EXPECT_EQ(rr.reports[0].cumulative_lost, -1);
  EXPECT_EQ(rr.reports[0].highest_sequence, 0x10010u);
  EXPECT_EQ(rr.reports[0].jitter, 42u);
  EXPECT_EQ(rr.reports[0].last_sr, 0x12345678u);
  EXPECT_EQ(rr.reports[0].delay_since_last_sr, 0x18000u);
  ASSERT_EQ(parsed->cnames.size(), 1u);
  EXPECT_EQ(parsed->cnames[0].ssrc, 0x01020304u);
  EXPECT_EQ(parsed->cnames[0].cname, "user@example.com");
  EXPECT_EQ(parsed->skipped_packets, 1u);
  ASSERT_EQ(parsed->byes.size(), 1u);
  EXPECT_EQ(parsed->byes[0].ssrcs, std::vector<std::uint32_t>{0x01020304u});
  EXPECT_EQ(parsed->byes[0].reason, "closed");

  // Built again from what was parsed, the RR and BYE are the same bytes.
  Bytes built;
  append_receiver_report(built, rr);
  EXPECT_EQ(built, Bytes(kCompound.begin(), kCompound.begin() + 32));
  built.clear();
  append_bye(built, parsed->byes[0].ssrcs, parsed->byes[0].reason);
  EXPECT_EQ(built, Bytes(kCompound.end() - 16, kCompound.end()));
}

TEST(Rtcp, BuildsASenderReportWithSdesThatParsesBack) {
  SenderReport sr;
  sr.ssrc = 0xdeadbeef;
  sr.ntp_timestamp = 0xe1b2c3d4'80000000ull;
  sr.rtp_timestamp = 123456;
  sr.packet_count = 1000;
  sr.octet_count = 1200000;
  sr.reports.push_back(ReportBlock{7, 12, -5, 70000, 33, 0x11112222, 65536});
  Bytes out;
  append_sender_report(out, sr);
  append_sdes_cname(out, sr.ssrc, "weir");
  EXPECT_EQ(out.size(), 52u + 16u);  // SR 28 + one block 24; SDES 8 + 2 + 4 + 1 padded to 16
  EXPECT_EQ(out[0], 0x81);
  EXPECT_EQ(out[1], 200);
  EXPECT_EQ(out[3], 12);  // 13 words - 1
  EXPECT_EQ(out[52 + 3], 3);
  auto parsed = parse_rtcp(out);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->sender_reports.size(), 1u);
  const SenderReport& back = parsed->sender_reports[0];
  EXPECT_EQ(back.ssrc, sr.ssrc);
  EXPECT_EQ(back.ntp_timestamp, sr.ntp_timestamp);
  EXPECT_EQ(back.rtp_timestamp, sr.rtp_timestamp);
  EXPECT_EQ(back.packet_count, sr.packet_count);
  EXPECT_EQ(back.octet_count, sr.octet_count);
  ASSERT_EQ(back.reports.size(), 1u);
  EXPECT_EQ(back.reports[0], sr.reports[0]);
  ASSERT_EQ(parsed->cnames.size(), 1u);
  EXPECT_EQ(parsed->cnames[0].cname, "weir");

  // A CNAME whose length is a multiple of 4 minus 2 still gets its null item and padding.
  Bytes sdes;
  append_sdes_cname(sdes, 1, "ab");
  EXPECT_EQ(sdes, (Bytes{0x81, 202, 0, 3, 0, 0, 0, 1, 1, 2, 'a', 'b', 0, 0, 0, 0}));
}

TEST(Rtcp, NtpTimestampCountsFrom1900WithA32BitFraction) {
  std::chrono::system_clock::time_point epoch{};
  EXPECT_EQ(ntp_timestamp(epoch), 2208988800ull << 32);
  EXPECT_EQ(ntp_timestamp(epoch + 1500ms), (2208988801ull << 32) | 0x80000000u);
  EXPECT_EQ(ntp_middle(0x11223344'55667788ull), 0x33445566u);
}

TEST(Rtcp, RejectsBrokenLengthsNamingTheOffset) {
  auto check = [](Bytes packet, const std::string& expected) {
    auto parsed = parse_rtcp(packet);
    ASSERT_FALSE(parsed) << expected;
    EXPECT_EQ(parsed.error().code(), Errc::malformed);
    EXPECT_TRUE(contains(parsed.error().message(), expected)) << parsed.error().message();
  };
  check({}, "0 bytes");
  check({0x80, 200, 0}, "header at offset 0");
  check({0x40, 201, 0, 1, 0, 0, 0, 0}, "version 1 at offset 0");
  check({0x80, 201, 0, 5, 0, 0, 0, 0}, "length 24 bytes, 8 left");
  check({0x82, 201, 0, 1, 0, 0, 0, 0}, "2 report blocks need 52 bytes");
  check({0x80, 200, 0, 1, 0, 0, 0, 0}, "sender info needs 24");
  check({0x81, 202, 0, 1, 0, 0, 0, 1}, "chunk 0 has no end item");
  check({0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 'a', 'b'}, "item 1 at body offset 4 runs past the end");
  check({0x82, 203, 0, 1, 0, 0, 0, 1}, "2 ssrcs need 8 bytes");
  check({0x81, 203, 0, 2, 0, 0, 0, 1, 9, 'a', 'b', 'c'}, "reason of 9 bytes");
  check({0xa0, 201, 0, 1, 0, 0, 0, 9}, "padding 9");
  // The second packet of a compound is checked as well.
  Bytes two = {0x80, 201, 0, 1, 0, 0, 0, 1, 0x80, 201, 0, 9};
  check(two, "offset 8");
}

TEST(ReceiverStatistics, CountsASourceAfterProbationAndComputesLoss) {
  ReceiverStatistics stats(99);
  EXPECT_FALSE(stats.on_packet(1000, 0, 0));  // probation: the first packet alone proves nothing
  EXPECT_TRUE(stats.on_packet(1001, 0, 0));
  for (std::uint16_t s = 1002; s < 1010; ++s) EXPECT_TRUE(stats.on_packet(s, 0, 0));
  // 1010 and 1011 lost.
  for (std::uint16_t s = 1012; s < 1021; ++s) EXPECT_TRUE(stats.on_packet(s, 0, 0));
  EXPECT_EQ(stats.received(), 18u);
  EXPECT_EQ(stats.expected(), 20u);
  EXPECT_EQ(stats.lost(), 2);
  auto now = std::chrono::steady_clock::time_point{} + 10s;
  ReportBlock block = stats.report_block(now);
  EXPECT_EQ(block.ssrc, 99u);
  EXPECT_EQ(block.cumulative_lost, 2);
  EXPECT_EQ(block.fraction_lost, 2 * 256 / 20);
  EXPECT_EQ(block.highest_sequence, 1020u);
  EXPECT_EQ(block.last_sr, 0u);
  // The next interval had no loss.
  for (std::uint16_t s = 1021; s < 1031; ++s) stats.on_packet(s, 0, 0);
  EXPECT_EQ(stats.report_block(now).fraction_lost, 0);
}

TEST(ReceiverStatistics, ExtendsTheSequenceAcrossWrapsAndResyncsAfterARestart) {
  ReceiverStatistics stats;
  for (std::uint32_t s = 65530; s < 65540; ++s) stats.on_packet(static_cast<std::uint16_t>(s), 0, 0);
  EXPECT_EQ(stats.extended_highest_sequence(), 65539u);
  EXPECT_EQ(stats.lost(), 0);
  // A jump of 30000 is ignored once, then taken as a restart when the next one follows it.
  EXPECT_FALSE(stats.on_packet(30000, 0, 0));
  EXPECT_TRUE(stats.on_packet(30001, 0, 0));
  EXPECT_TRUE(stats.on_packet(30002, 0, 0));
  EXPECT_EQ(stats.expected(), 2u);
  EXPECT_EQ(stats.received(), 2u);
}

TEST(ReceiverStatistics, ComputesInterarrivalJitterAsRfc3550A8) {
  ReceiverStatistics stats;
  stats.on_packet(1, 0, 0);  // probation
  // Transit times 0, 160, 0, 160: D = 160 each time; J += (|D| - J) / 16.
  stats.on_packet(2, 3000, 3000);
  stats.on_packet(3, 6000, 6160);
  EXPECT_EQ(stats.jitter(), 10u);  // 160 / 16
  stats.on_packet(4, 9000, 9000);
  EXPECT_EQ(stats.jitter(), 19u);  // 10 + (160 - 10) / 16 = 19.4
  stats.on_packet(5, 12000, 12160);
  EXPECT_EQ(stats.jitter(), 28u);
}

TEST(ReceiverStatistics, ReportsLastSenderReportAndTheDelaySinceIt) {
  ReceiverStatistics stats(5);
  auto arrival = std::chrono::steady_clock::time_point{} + 100s;
  stats.on_sender_report(0xaaaa1234'5678bbbbull, arrival);
  ReportBlock block = stats.report_block(arrival + 1500ms);
  EXPECT_EQ(block.last_sr, 0x12345678u);
  EXPECT_EQ(block.delay_since_last_sr, 98304u);  // 1.5 × 65536
}

}  // namespace
}  // namespace weir::formats::rtp
