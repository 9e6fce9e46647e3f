// SPDX-License-Identifier: Apache-2.0
// Fuzz target: HevcDepacketizer (and parse_rtp, ReorderBuffer, build_hevc_decoder_config) on a
// stream of length-prefixed RTP packets (see test_fuzz_packets.h).
#include "formats/rtp/hevc.h"
#include "formats/rtp/test_nal_fuzz.h"

namespace {
struct BuildHevc {
  void operator()(const weir::formats::rtp::HevcDepacketizer& d) const {
    auto record = weir::formats::rtp::build_hevc_decoder_config(d.vps(), d.sps(), d.pps());
    if (record && !weir::formats::rtp::hevc_parameter_sets(*record)) __builtin_trap();  // ours must read back
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return weir::formats::rtp::fuzz::run_nal_fuzz<weir::formats::rtp::HevcDepacketizer, BuildHevc>(data, size);
}
