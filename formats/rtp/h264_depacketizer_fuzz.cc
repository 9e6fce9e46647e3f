// SPDX-License-Identifier: Apache-2.0
// Fuzz target: H264Depacketizer (and parse_rtp, ReorderBuffer, build_avc_decoder_config) on a
// stream of length-prefixed RTP packets (see test_fuzz_packets.h).
#include "formats/rtp/h264.h"
#include "formats/rtp/test_nal_fuzz.h"

namespace {
struct BuildAvc {
  void operator()(const weir::formats::rtp::H264Depacketizer& d) const {
    auto record = weir::formats::rtp::build_avc_decoder_config(d.sps(), d.pps());
    if (record && !weir::formats::rtp::avc_parameter_sets(*record)) __builtin_trap();  // ours must read back
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return weir::formats::rtp::fuzz::run_nal_fuzz<weir::formats::rtp::H264Depacketizer, BuildAvc>(data, size);
}
