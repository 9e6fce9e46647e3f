// SPDX-License-Identifier: Apache-2.0
// Fuzzes parse_sdp() and the fmtp readers, and checks that writing is stable: what write_sdp()
// writes of a parsed description parses to a description that writes the same text again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "formats/rtsp/fmtp.h"
#include "formats/rtsp/range.h"
#include "formats/rtsp/sdp.h"

namespace rtsp = weir::formats::rtsp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sdp = rtsp::parse_sdp(text);
  if (!sdp) return 0;
  if (!sdp->range.empty()) static_cast<void>(rtsp::parse_range(sdp->range));
  for (const rtsp::SdpMedia& media : sdp->media) {
    for (const rtsp::Fmtp& fmtp : media.fmtps) {
      static_cast<void>(rtsp::h264_parameters(fmtp));
      static_cast<void>(rtsp::hevc_parameters(fmtp));
      static_cast<void>(rtsp::aac_parameters(fmtp));
      static_cast<void>(rtsp::opus_parameters(fmtp));
    }
    static_cast<void>(media.rtpmap(media.first_payload_type()));
  }
  const std::string written = rtsp::write_sdp(*sdp);
  auto again = rtsp::parse_sdp(written, rtsp::SdpLimits{written.size() + 1, 1u << 20});
  if (!again) std::abort();
  if (rtsp::write_sdp(*again) != written) std::abort();
  return 0;
}
