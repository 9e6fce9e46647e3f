// SPDX-License-Identifier: Apache-2.0
#pragma once
// Fuzz-only: the body of the H.264 and HEVC depacketizer targets. Packets go through parse_rtp,
// then to one depacketizer in arrival order (loss from sequence gaps, as mod_rtsp does over TCP)
// and through a ReorderBuffer to a second one (as over UDP). Every unit must be well-formed AVCC
// within the cap; changed parameter sets are built into a decoder configuration record.

#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/rtp/test_fuzz_packets.h"
#include "formats/rtp/payload_sink.h"
#include "formats/rtp/reorder.h"
#include "formats/rtp/rtp_packet.h"

namespace weir::formats::rtp::fuzz {

constexpr std::size_t kFuzzCap = 1 << 16;

struct CheckingSink : AccessUnitSink {
  void access_unit(const AccessUnit& unit) override {
    if (unit.data.empty() || unit.data.size() > kFuzzCap || !is_whole_avcc(unit.data)) __builtin_trap();
  }
};

template <class Depacketizer, class BuildConfig>
struct Feeder : ReleasedPacketSink {
  Depacketizer depacketizer{kFuzzCap};
  CheckingSink sink;
  BuildConfig build;
  void feed(std::span<const std::uint8_t> bytes, bool follows_loss) {
    auto packet = parse_rtp(bytes);
    if (!packet) return;
    (void)depacketizer.push(*packet, follows_loss, sink);
    if (depacketizer.take_parameter_sets_changed()) build(depacketizer);
  }
  void released(std::uint16_t, std::span<const std::uint8_t> packet, std::uint32_t lost_before) override {
    feed(packet, lost_before != 0);
  }
};

template <class Depacketizer, class BuildConfig>
int run_nal_fuzz(const std::uint8_t* data, std::size_t size) {
  Feeder<Depacketizer, BuildConfig> in_order, reordered;
  ReorderBuffer reorder(8, 2048);
  bool has_last = false;
  std::uint16_t last = 0;
  for (auto bytes : split_packets(std::span<const std::uint8_t>(data, size))) {
    auto packet = parse_rtp(bytes);
    bool gap = false;
    if (packet) {
      gap = has_last && packet->header.sequence != static_cast<std::uint16_t>(last + 1);
      has_last = true;
      last = packet->header.sequence;
      reorder.push(packet->header.sequence, bytes, reordered);
    }
    in_order.feed(bytes, gap);
  }
  in_order.depacketizer.flush(in_order.sink);
  reorder.flush(reordered);
  reordered.depacketizer.flush(reordered.sink);
  return 0;
}

}  // namespace weir::formats::rtp::fuzz
