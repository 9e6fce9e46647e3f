// SPDX-License-Identifier: Apache-2.0
#include "formats/mp4/movie.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include "formats/flv/codec_config.h"
#include "formats/mp4/box_writer.h"

namespace weir::formats::mp4 {
namespace {

constexpr std::uint32_t kTimescale = 1000;

bool is_video(Codec codec) noexcept { return codec == Codec::h264 || codec == Codec::hevc; }
bool is_audio(Codec codec) noexcept { return codec == Codec::aac || codec == Codec::opus; }

// What a track's samples add up to, computed once before writing its boxes.
struct TrackPlan {
  std::uint32_t id = 0;       // track_ID, from 1
  std::size_t track = 0;      // index into the tracks
  flv::CodecDescription description;
  std::vector<const Sample*> samples;
  std::vector<std::uint32_t> durations;
  std::uint64_t duration = 0;  // of its media (decode times), in ms
  // Presented: from the earliest composition time of the media to the end of the last presented
  // sample (B-frames make both differ from the decode times).
  std::int64_t presentation_start = 0;
  std::uint64_t presentation_duration = 0;
  std::int64_t start_gap = 0;  // from the movie's first sample to this track's
  bool all_key = true;
  bool any_cts = false;
  bool negative_cts = false;
  bool needs_co64 = false;
};

// An MPEG-4 descriptor's header: its tag and a size in the 4-byte expandable form.
void descriptor(BoxWriter& w, std::uint8_t tag, std::uint32_t size) {
  w.u8(tag);
  w.u8(static_cast<std::uint8_t>(0x80 | ((size >> 21) & 0x7F)));
  w.u8(static_cast<std::uint8_t>(0x80 | ((size >> 14) & 0x7F)));
  w.u8(static_cast<std::uint8_t>(0x80 | ((size >> 7) & 0x7F)));
  w.u8(static_cast<std::uint8_t>(size & 0x7F));
}

void write_esds(BoxWriter& w, const Track& track) {
  const auto config_size = static_cast<std::uint32_t>(track.config.size());
  const std::uint32_t specific = 5 + config_size;          // DecoderSpecificInfo
  const std::uint32_t decoder = 5 + 13 + specific;         // DecoderConfigDescriptor
  const std::uint32_t sl = 5 + 1;                          // SLConfigDescriptor
  w.begin_full("esds", 0, 0);
  descriptor(w, 0x03, 3 + decoder + sl);  // ES_Descriptor
  w.u16(0);                               // ES_ID
  w.u8(0);                                // no dependence, URL or OCR stream
  descriptor(w, 0x04, 13 + specific);
  w.u8(0x40);                             // objectTypeIndication: MPEG-4 Audio
  w.u8(0x15);                             // streamType 5 (audio) << 2 | upStream 0 | reserved 1
  w.u24(0);                               // bufferSizeDB
  w.u32(0);                               // maxBitrate (unknown)
  w.u32(0);                               // avgBitrate (variable)
  descriptor(w, 0x05, config_size);
  w.bytes(track.config);
  descriptor(w, 0x06, 1);
  w.u8(0x02);                             // predefined: MP4
  w.end();
}

// dOps from an OpusHead (RFC 7845 5.1: little-endian) in the ISO form (big-endian, version 0).
Status write_dops(BoxWriter& w, const Track& track) {
  const auto& h = track.config;
  if (h.size() < 19 || std::string_view(reinterpret_cast<const char*>(h.data()), 8) != "OpusHead")
    return Status(Errc::malformed, "opus track: the configuration is not an OpusHead");
  w.begin("dOps");
  w.u8(0);                                                     // Version
  w.u8(h[9]);                                                  // OutputChannelCount
  w.u16(static_cast<std::uint16_t>(h[10] | (h[11] << 8)));     // PreSkip
  w.u32(static_cast<std::uint32_t>(h[12] | (h[13] << 8) | (h[14] << 16) | (static_cast<std::uint32_t>(h[15]) << 24)));
  w.u16(static_cast<std::uint16_t>(h[16] | (h[17] << 8)));     // OutputGain
  w.u8(h[18]);                                                 // ChannelMappingFamily
  if (h[18] != 0) {
    if (h.size() < 21u + h[9]) return Status(Errc::malformed, "opus track: the OpusHead's channel mapping table is cut short");
    w.bytes(std::span<const std::uint8_t>(h.data() + 19, 2u + h[9]));  // StreamCount, CoupledCount, mapping
  }
  w.end();
  return ok();
}

Status write_sample_entry(BoxWriter& w, const Track& track, const flv::CodecDescription& d) {
  if (is_video(track.codec)) {
    w.begin(track.codec == Codec::h264 ? "avc1" : "hvc1");
    w.zeros(6);
    w.u16(1);  // data_reference_index
    w.zeros(16);  // pre_defined, reserved
    w.u16(static_cast<std::uint16_t>(d.width));
    w.u16(static_cast<std::uint16_t>(d.height));
    w.u32(0x00480000);  // 72 dpi
    w.u32(0x00480000);
    w.u32(0);
    w.u16(1);  // frame_count
    w.zeros(32);  // compressorname
    w.u16(0x0018);  // depth
    w.u16(0xFFFF);  // pre_defined = -1
    w.begin(track.codec == Codec::h264 ? "avcC" : "hvcC");
    w.bytes(track.config);
    w.end();
    w.end();
    return ok();
  }
  w.begin(track.codec == Codec::aac ? "mp4a" : "Opus");
  w.zeros(6);
  w.u16(1);
  w.zeros(8);
  w.u16(static_cast<std::uint16_t>(std::max<int>(1, d.channels)));
  w.u16(16);  // samplesize
  w.u32(0);   // pre_defined, reserved
  const std::uint32_t rate = track.codec == Codec::opus ? 48000 : d.sample_rate_hz;
  w.u32(rate <= 0xFFFF ? rate << 16 : 0);
  if (track.codec == Codec::aac) {
    write_esds(w, track);
  } else if (Status s = write_dops(w, track); !s) {
    return s;
  }
  w.end();
  return ok();
}

Status write_track(BoxWriter& w, const Track& track, const TrackPlan& plan) {
  const bool video = is_video(track.codec);
  const std::uint64_t edited = plan.presentation_duration + static_cast<std::uint64_t>(plan.start_gap);
  w.begin("trak");
  w.begin_full("tkhd", 1, 0x000003);  // enabled, in the movie
  w.u64(0);  // creation_time
  w.u64(0);  // modification_time
  w.u32(plan.id);
  w.u32(0);
  w.u64(edited);
  w.zeros(8);
  w.u16(0);  // layer
  w.u16(0);  // alternate_group
  w.u16(video ? 0 : 0x0100);  // volume
  w.u16(0);
  w.unity_matrix();
  w.u32(video ? plan.description.width << 16 : 0);
  w.u32(video ? plan.description.height << 16 : 0);
  w.end();

  // The edit list: an empty edit for a late start, then the media from its first presented time.
  if (plan.start_gap > 0 || plan.presentation_start != 0) {
    w.begin("edts");
    w.begin_full("elst", 1, 0);
    w.u32(plan.start_gap > 0 ? 2 : 1);
    if (plan.start_gap > 0) {
      w.u64(static_cast<std::uint64_t>(plan.start_gap));
      w.u64(std::numeric_limits<std::uint64_t>::max());  // media_time -1: empty
      w.u32(0x00010000);
    }
    w.u64(plan.presentation_duration);
    w.u64(static_cast<std::uint64_t>(plan.presentation_start));
    w.u32(0x00010000);  // media_rate 1.0
    w.end();
    w.end();
  }

  w.begin("mdia");
  w.begin_full("mdhd", 1, 0);
  w.u64(0);
  w.u64(0);
  w.u32(kTimescale);
  w.u64(plan.duration);
  w.u16(0x55C4);  // language "und"
  w.u16(0);
  w.end();
  w.begin_full("hdlr", 0, 0);
  w.u32(0);
  w.fourcc(video ? "vide" : "soun");
  w.zeros(12);
  const std::string_view name = video ? "Weir video" : "Weir audio";
  w.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()));
  w.u8(0);
  w.end();
  w.begin("minf");
  if (video) {
    w.begin_full("vmhd", 0, 1);
    w.zeros(8);
  } else {
    w.begin_full("smhd", 0, 0);
    w.zeros(4);
  }
  w.end();
  w.begin("dinf");
  w.begin_full("dref", 0, 0);
  w.u32(1);
  w.begin_full("url ", 0, 1);  // the data is in this file
  w.end();
  w.end();
  w.end();

  w.begin("stbl");
  w.begin_full("stsd", 0, 0);
  w.u32(1);
  if (Status s = write_sample_entry(w, track, plan.description); !s) return s;
  w.end();

  // stts: runs of equal durations.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  for (std::uint32_t d : plan.durations) {
    if (!runs.empty() && runs.back().second == d) ++runs.back().first;
    else runs.emplace_back(1, d);
  }
  w.begin_full("stts", 0, 0);
  w.u32(static_cast<std::uint32_t>(runs.size()));
  for (auto [count, delta] : runs) {
    w.u32(count);
    w.u32(delta);
  }
  w.end();
  if (plan.any_cts) {
    std::vector<std::pair<std::uint32_t, std::int32_t>> offsets;
    for (const Sample* s : plan.samples) {
      if (!offsets.empty() && offsets.back().second == s->cts_offset_ms) ++offsets.back().first;
      else offsets.emplace_back(1, s->cts_offset_ms);
    }
    w.begin_full("ctts", plan.negative_cts ? 1 : 0, 0);
    w.u32(static_cast<std::uint32_t>(offsets.size()));
    for (auto [count, offset] : offsets) {
      w.u32(count);
      w.u32(static_cast<std::uint32_t>(offset));
    }
    w.end();
  }
  if (!plan.all_key) {
    std::uint32_t keys = 0;
    for (const Sample* s : plan.samples) keys += s->is_key;
    w.begin_full("stss", 0, 0);
    w.u32(keys);
    for (std::size_t i = 0; i < plan.samples.size(); ++i)
      if (plan.samples[i]->is_key) w.u32(static_cast<std::uint32_t>(i + 1));
    w.end();
  }
  w.begin_full("stsc", 0, 0);  // one sample per chunk, all of the first description
  w.u32(1);
  w.u32(1);
  w.u32(1);
  w.u32(1);
  w.end();
  w.begin_full("stsz", 0, 0);
  w.u32(0);
  w.u32(static_cast<std::uint32_t>(plan.samples.size()));
  for (const Sample* s : plan.samples) w.u32(s->size);
  w.end();
  w.begin_full(plan.needs_co64 ? "co64" : "stco", 0, 0);
  w.u32(static_cast<std::uint32_t>(plan.samples.size()));
  for (const Sample* s : plan.samples) {
    if (plan.needs_co64) w.u64(s->offset);
    else w.u32(static_cast<std::uint32_t>(s->offset));
  }
  w.end();
  w.end();  // stbl
  w.end();  // minf
  w.end();  // mdia
  w.end();  // trak
  return ok();
}

}  // namespace

std::vector<std::uint8_t> file_start() {
  std::vector<std::uint8_t> out;
  BoxWriter w(out);
  w.begin("ftyp");
  w.fourcc("isom");
  w.u32(0x200);
  for (std::string_view brand : {"isom", "iso2", "avc1", "mp41"}) w.fourcc(brand);
  w.end();
  w.u32(1);  // size 1: the 64-bit size follows
  w.fourcc("mdat");
  w.u64(0);  // patched when the file is finished (mdat_size_patch)
  return out;
}

std::vector<std::uint8_t> mdat_size_patch(std::uint64_t moov_offset) {
  std::vector<std::uint8_t> out;
  BoxWriter w(out);
  w.u64(moov_offset - kFtypSize);
  return out;
}

Result<std::vector<std::uint8_t>> build_moov(std::span<const Track> tracks, std::span<const Sample> samples,
                                            std::uint64_t data_end) {
  std::vector<TrackPlan> plans(tracks.size());
  for (std::size_t t = 0; t < tracks.size(); ++t) plans[t].track = t;
  for (const Sample& s : samples) {
    if (s.track >= tracks.size())
      return error(Errc::malformed, "sample at offset {}: no track {}", s.offset, s.track);
    if (s.offset < kFileStartSize || s.offset + s.size > data_end)
      return error(Errc::malformed, "sample at offset {} ({} bytes) lies outside the media data (up to {})", s.offset,
                   s.size, data_end);
    TrackPlan& plan = plans[s.track];
    if (!plan.samples.empty() && s.dts_ms < plan.samples.back()->dts_ms)
      return error(Errc::malformed, "track {}: a sample at offset {} decodes before the one before it", s.track, s.offset);
    plan.samples.push_back(&s);
  }
  std::int64_t movie_start = std::numeric_limits<std::int64_t>::max();
  std::uint32_t next_id = 1;
  for (TrackPlan& plan : plans) {
    if (plan.samples.empty()) continue;
    const Track& track = tracks[plan.track];
    if (!is_video(track.codec) && !is_audio(track.codec))
      return error(Errc::unsupported, "track {}: {} cannot be written to MP4 here", plan.track, codec_name(track.codec));
    if (track.config.empty()) return error(Errc::malformed, "track {}: no codec configuration", plan.track);
    auto description = flv::parse_codec_config(track.codec, track.config);
    if (!description) return description.error().with_context(format("track {}", plan.track));
    plan.description = *description;
    plan.id = next_id++;
  }
  if (next_id == 1) return error(Errc::malformed, "no samples");

  std::uint64_t movie_duration = 0;
  for (TrackPlan& plan : plans) {
    if (plan.samples.empty()) continue;
    const std::size_t n = plan.samples.size();
    plan.durations.resize(n);
    for (std::size_t i = 0; i + 1 < n; ++i)
      plan.durations[i] = static_cast<std::uint32_t>(plan.samples[i + 1]->dts_ms - plan.samples[i]->dts_ms);
    // The last sample lasts as long as the one before it (nothing says more); a lone one 1 ms.
    plan.durations[n - 1] = n > 1 ? std::max<std::uint32_t>(plan.durations[n - 2], 1) : 1;
    std::int64_t start = std::numeric_limits<std::int64_t>::max(), end = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t composition = static_cast<std::int64_t>(plan.duration) + plan.samples[i]->cts_offset_ms;
      start = std::min(start, composition);
      end = std::max(end, composition + plan.durations[i]);
      plan.duration += plan.durations[i];
    }
    plan.presentation_start = std::max<std::int64_t>(start, 0);
    plan.presentation_duration = static_cast<std::uint64_t>(std::max<std::int64_t>(end - plan.presentation_start, 1));
    // The movie starts with the earliest presented sample of any track (as the stream's players
    // saw it: video presented 80 ms after its decode time starts 80 ms late).
    movie_start = std::min(movie_start, plan.samples.front()->dts_ms + plan.presentation_start);
    for (const Sample* s : plan.samples) {
      plan.all_key = plan.all_key && s->is_key;
      plan.any_cts = plan.any_cts || s->cts_offset_ms != 0;
      plan.negative_cts = plan.negative_cts || s->cts_offset_ms < 0;
      plan.needs_co64 = plan.needs_co64 || s->offset + s->size > 0xFFFFFFFFull;
    }
  }
  for (TrackPlan& plan : plans) {
    if (plan.samples.empty()) continue;
    plan.start_gap = plan.samples.front()->dts_ms + plan.presentation_start - movie_start;
    movie_duration = std::max(movie_duration, plan.presentation_duration + static_cast<std::uint64_t>(plan.start_gap));
  }

  std::vector<std::uint8_t> out;
  BoxWriter w(out);
  w.begin("moov");
  w.begin_full("mvhd", 1, 0);
  w.u64(0);  // creation_time
  w.u64(0);  // modification_time
  w.u32(kTimescale);
  w.u64(movie_duration);
  w.u32(0x00010000);  // rate 1.0
  w.u16(0x0100);      // volume 1.0
  w.zeros(10);
  w.unity_matrix();
  w.zeros(24);  // pre_defined
  w.u32(next_id);
  w.end();
  for (const TrackPlan& plan : plans) {
    if (plan.samples.empty()) continue;
    if (Status s = write_track(w, tracks[plan.track], plan); !s) return s;
  }
  w.end();
  return out;
}

}  // namespace weir::formats::mp4
