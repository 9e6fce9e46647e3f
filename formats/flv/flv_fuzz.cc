// SPDX-License-Identifier: Apache-2.0
// Fuzz target for formats/flv: the input is read as an FLV stream (fed in chunks whose size comes
// from the first byte), every tag body through parse_tag_info / MultitrackReader / the codec
// configuration decoders, and the whole input as each kind of configuration record and as an
// access unit. Anything but a clean Status is a bug: the sanitizers turn it into a crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/flv/codec_config.h"
#include "formats/flv/flv_file.h"
#include "formats/flv/media_tag.h"

using namespace weir::formats::flv;

namespace {

void check_tag(TagType type, std::span<const std::uint8_t> body) {
  auto info = parse_tag_info(type, body);
  if (!info) return;
  if (info->payload_offset > body.size()) __builtin_trap();  // an offset past the body is our bug
  if (info->is_multitrack) {
    MultitrackReader tracks(body, *info);
    for (int i = 0; i < 1024; ++i) {
      auto track = tracks.next();
      if (!track || !*track) break;
      auto payload = (*track)->payload;
      if (payload.data() < body.data() || payload.data() + payload.size() > body.data() + body.size())
        __builtin_trap();
      if (info->flags.is_sequence_header) (void)parse_codec_config((*track)->codec, payload);
    }
    return;
  }
  if (info->flags.is_sequence_header) {
    auto description = parse_sequence_header(*info, body);
    if (description) (void)rfc6381_codec_string(*description);
  } else if (info->packet_type == PacketType::coded_frames &&
             (info->codec == weir::Codec::h264 || info->codec == weir::Codec::hevc)) {
    (void)scan_access_unit(info->codec, body.subspan(info->payload_offset));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);

  // 1. As an FLV stream.
  FlvReaderOptions options;
  options.max_tag_data_size = 1 << 20;
  options.check_previous_tag_size = size == 0 || (data[0] & 1) == 0;
  FlvReader reader(options);
  std::size_t chunk = size == 0 ? 1 : 1 + data[0] % 64;
  for (std::size_t at = 0; at < size; at += chunk) {
    reader.feed(input.subspan(at, chunk < size - at ? chunk : size - at));
    while (true) {
      auto tag = reader.next();
      if (!tag || !*tag) break;
      check_tag((*tag)->type, (*tag)->body);
    }
  }
  (void)reader.finish();

  // 2. As a tag body of each type.
  check_tag(TagType::video, input);
  check_tag(TagType::audio, input);

  // 3. As each configuration record, a bare SPS and an access unit.
  for (weir::Codec codec : {weir::Codec::h264, weir::Codec::hevc, weir::Codec::av1, weir::Codec::vp9,
                            weir::Codec::aac, weir::Codec::opus, weir::Codec::flac}) {
    auto description = parse_codec_config(codec, input);
    if (description) (void)rfc6381_codec_string(*description);
  }
  (void)parse_avc_sps(input);
  (void)parse_hevc_sps(input);
  (void)scan_access_unit(weir::Codec::h264, input, size == 0 ? 4 : static_cast<std::uint8_t>(1 + data[0] % 4));
  (void)scan_access_unit(weir::Codec::hevc, input);
  return 0;
}
