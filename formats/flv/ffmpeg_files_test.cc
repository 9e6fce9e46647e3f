// SPDX-License-Identifier: Apache-2.0
// FLV files written by ffmpeg 5.1 (testdata/generate.sh), read end to end. Expected values come
// from ffprobe on the same files (packet dts/pts/flags/pos, stream parameters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/flv/codec_config.h"
#include "formats/flv/flv_file.h"
#include "formats/flv/media_tag.h"
#include "formats/flv/test_files.h"

namespace weir::formats::flv {
namespace {

using Bytes = std::vector<std::uint8_t>;
using test::read_testdata;

struct Tag {
  TagType type;
  std::uint32_t timestamp_ms;
  std::uint64_t file_offset;
  Bytes body;
};

// Reads a whole file through FlvReader, fed `chunk` bytes at a time.
std::vector<Tag> read_tags(const Bytes& file, std::size_t chunk, FileHeader* header = nullptr) {
  std::vector<Tag> tags;
  FlvReader reader;
  for (std::size_t at = 0; at < file.size(); at += chunk) {
    reader.feed(std::span<const std::uint8_t>(file.data() + at, std::min(chunk, file.size() - at)));
    while (true) {
      auto tag = reader.next();
      EXPECT_TRUE(tag) << tag.error().message();
      if (!tag || !*tag) break;
      tags.push_back({(*tag)->type, (*tag)->timestamp_ms, (*tag)->file_offset,
                      Bytes((*tag)->body.begin(), (*tag)->body.end())});
    }
  }
  Status end = reader.finish();
  EXPECT_TRUE(end.is_ok()) << end.message();
  if (header && reader.file_header()) *header = *reader.file_header();
  return tags;
}

TagInfo info_of(const Tag& tag) {
  auto info = parse_tag_info(tag.type, tag.body);
  EXPECT_TRUE(info) << "tag at " << tag.file_offset << ": " << info.error().message();
  return info ? *info : TagInfo{};
}

class H264AacFile : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = read_testdata("h264_aac.flv");
    ASSERT_EQ(file_.size(), 66459u) << "testdata/h264_aac.flv missing or regenerated";
    tags_ = read_tags(file_, 4096, &header_);
  }
  Bytes file_;
  FileHeader header_;
  std::vector<Tag> tags_;
};

TEST_F(H264AacFile, HeaderAndTagCountsMatchFfprobe) {
  EXPECT_TRUE(header_.has_audio);
  EXPECT_TRUE(header_.has_video);
  std::size_t script = 0, video = 0, audio = 0;
  for (const Tag& tag : tags_) {
    script += tag.type == TagType::script;
    video += tag.type == TagType::video;
    audio += tag.type == TagType::audio;
  }
  EXPECT_EQ(script, 1u);
  EXPECT_EQ(video, 1u + 50 + 1);  // sequence header, 50 frames, end of sequence
  EXPECT_EQ(audio, 1u + 88);      // sequence header, 88 frames
  EXPECT_EQ(tags_.front().type, TagType::script);
  EXPECT_EQ(tags_.front().file_offset, 13u);
  EXPECT_TRUE(info_of(tags_.front()).flags.is_metadata);
}

TEST_F(H264AacFile, VideoSequenceHeaderDescribesHigh640x360) {
  auto it = std::find_if(tags_.begin(), tags_.end(), [](const Tag& t) { return t.type == TagType::video; });
  ASSERT_NE(it, tags_.end());
  TagInfo info = info_of(*it);
  ASSERT_TRUE(info.flags.is_sequence_header);
  auto description = parse_sequence_header(info, it->body);
  ASSERT_TRUE(description) << description.error().message();
  EXPECT_EQ(description->codec, Codec::h264);
  EXPECT_EQ(description->width, 640u);
  EXPECT_EQ(description->height, 360u);
  EXPECT_EQ(description->coded_height, 368u);  // 23 macroblock rows, 8 lines cropped
  EXPECT_EQ(description->profile, 100);
  EXPECT_EQ(description->level, 30);
  EXPECT_EQ(description->nal_length_size, 4);
  EXPECT_EQ(rfc6381_codec_string(*description), "avc1.64001e");
}

TEST_F(H264AacFile, AudioSequenceHeaderDescribesMonoAacLc) {
  auto it = std::find_if(tags_.begin(), tags_.end(), [](const Tag& t) { return t.type == TagType::audio; });
  ASSERT_NE(it, tags_.end());
  TagInfo info = info_of(*it);
  ASSERT_TRUE(info.flags.is_sequence_header);
  auto description = parse_sequence_header(info, it->body);
  ASSERT_TRUE(description) << description.error().message();
  EXPECT_EQ(description->codec, Codec::aac);
  EXPECT_EQ(description->sample_rate_hz, 44100u);
  EXPECT_EQ(description->channels, 1);
  EXPECT_EQ(rfc6381_codec_string(*description), "mp4a.40.2");
}

TEST_F(H264AacFile, VideoFramesMatchFfprobeTimestampsAndKeyFrames) {
  std::vector<std::uint32_t> dts;
  std::vector<std::int64_t> pts;
  std::vector<std::uint32_t> key_dts;
  std::vector<std::uint64_t> offsets;
  std::vector<std::size_t> sizes;
  bool saw_end = false;
  for (const Tag& tag : tags_) {
    if (tag.type != TagType::video) continue;
    TagInfo info = info_of(tag);
    EXPECT_EQ(info.codec, Codec::h264);
    if (info.is_sequence_end) {
      saw_end = true;
      EXPECT_EQ(tag.timestamp_ms, 1960u);
      continue;
    }
    if (info.packet_type != PacketType::coded_frames) continue;
    dts.push_back(tag.timestamp_ms);
    pts.push_back(std::int64_t{tag.timestamp_ms} + info.composition_time_ms);
    offsets.push_back(tag.file_offset);
    sizes.push_back(tag.body.size() - info.payload_offset);
    // The frame type and the NAL units agree in this file: every key frame is an IDR.
    auto access_unit =
        scan_access_unit(Codec::h264, std::span<const std::uint8_t>(tag.body).subspan(info.payload_offset));
    ASSERT_TRUE(access_unit) << access_unit.error().message();
    EXPECT_EQ(access_unit->has_idr, info.flags.is_key_frame) << "dts " << tag.timestamp_ms;
    if (info.flags.is_key_frame) key_dts.push_back(tag.timestamp_ms);
  }
  EXPECT_TRUE(saw_end);
  ASSERT_EQ(dts.size(), 50u);
  EXPECT_EQ(key_dts, (std::vector<std::uint32_t>{0, 1000}));
  // ffprobe: packet pts,dts,size,pos of the first frames and the last.
  EXPECT_EQ(dts[0], 0u);
  EXPECT_EQ(pts[0], 80);
  EXPECT_EQ(sizes[0], 3455u);
  EXPECT_EQ(offsets[0], 409u);
  EXPECT_EQ(pts[1], 160);
  EXPECT_EQ(dts[1], 40u);
  EXPECT_EQ(offsets[1], 3884u);
  EXPECT_EQ(pts[2], 120);
  EXPECT_EQ(dts[49], 1960u);
  EXPECT_EQ(pts[49], 2000);
  EXPECT_EQ(sizes[49], 1027u);
  EXPECT_EQ(offsets[49], 64808u);
  for (std::size_t i = 0; i < dts.size(); ++i) EXPECT_EQ(dts[i], 40 * i);
}

TEST_F(H264AacFile, AudioFramesMatchFfprobeTimestamps) {
  std::vector<std::uint32_t> timestamps;
  std::vector<std::size_t> sizes;
  std::vector<std::uint64_t> offsets;
  for (const Tag& tag : tags_) {
    if (tag.type != TagType::audio) continue;
    TagInfo info = info_of(tag);
    EXPECT_EQ(info.codec, Codec::aac);
    if (info.packet_type != PacketType::coded_frames) continue;
    timestamps.push_back(tag.timestamp_ms);
    sizes.push_back(tag.body.size() - info.payload_offset);
    offsets.push_back(tag.file_offset);
  }
  ASSERT_EQ(timestamps.size(), 88u);
  EXPECT_EQ(timestamps.front(), 57u);
  EXPECT_EQ(sizes.front(), 153u);
  EXPECT_EQ(offsets.front(), 5158u);
  EXPECT_EQ(timestamps.back(), 2077u);
  EXPECT_EQ(sizes.back(), 5u);
  EXPECT_EQ(offsets.back(), 66417u);
  EXPECT_TRUE(std::is_sorted(timestamps.begin(), timestamps.end()));
}

TEST_F(H264AacFile, ReadsTheSameTagsFedOneByteAtATime) {
  std::vector<Tag> bytewise = read_tags(file_, 1);
  ASSERT_EQ(bytewise.size(), tags_.size());
  for (std::size_t i = 0; i < tags_.size(); ++i) {
    EXPECT_EQ(bytewise[i].file_offset, tags_[i].file_offset);
    EXPECT_EQ(bytewise[i].body, tags_[i].body);
  }
}

TEST_F(H264AacFile, WriterReproducesTheFileByteForByte) {
  FlvWriter writer;
  writer.write_header(header_);
  for (const Tag& tag : tags_) ASSERT_TRUE(writer.write_tag(tag.type, tag.timestamp_ms, tag.body).is_ok());
  EXPECT_TRUE(writer.bytes() == file_);
}

TEST_F(H264AacFile, RewrittenAsEnhancedRtmpItParsesTheSame) {
  // Legacy AVC tags re-headed as E-RTMP 'avc1': same codec, flags, times and codec data.
  for (const Tag& tag : tags_) {
    if (tag.type != TagType::video) continue;
    TagInfo legacy = info_of(tag);
    auto header = write_enhanced_video_header(legacy.codec, legacy.frame_type == 1, legacy.packet_type,
                                              legacy.composition_time_ms);
    ASSERT_TRUE(header) << header.error().message();
    Bytes body(header->view().begin(), header->view().end());
    body.insert(body.end(), tag.body.begin() + static_cast<std::ptrdiff_t>(legacy.payload_offset), tag.body.end());
    auto enhanced = parse_video_tag(body);
    ASSERT_TRUE(enhanced) << enhanced.error().message();
    EXPECT_TRUE(enhanced->is_enhanced);
    EXPECT_EQ(enhanced->codec, Codec::h264);
    EXPECT_EQ(enhanced->flags.is_key_frame, legacy.flags.is_key_frame);
    EXPECT_EQ(enhanced->flags.is_sequence_header, legacy.flags.is_sequence_header);
    EXPECT_EQ(enhanced->is_sequence_end, legacy.is_sequence_end);
    EXPECT_EQ(enhanced->composition_time_ms, legacy.composition_time_ms);
    EXPECT_TRUE(std::equal(body.begin() + static_cast<std::ptrdiff_t>(enhanced->payload_offset), body.end(),
                           tag.body.begin() + static_cast<std::ptrdiff_t>(legacy.payload_offset), tag.body.end()));
    if (legacy.flags.is_sequence_header) {
      auto description = parse_sequence_header(*enhanced, body);
      ASSERT_TRUE(description);
      EXPECT_EQ(description->width, 640u);
    }
  }
}

TEST_F(H264AacFile, ATruncatedFrameIsNamedByFinish) {
  // Cut inside the first video frame (tag at 409, 3455 + 5 body bytes): finish() names it.
  Bytes cut(file_.begin(), file_.begin() + 409 + 11 + 100);
  FlvReader reader;
  reader.feed(cut);
  while (true) {
    auto tag = reader.next();
    ASSERT_TRUE(tag);
    if (!*tag) break;
  }
  Status status = reader.finish();
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("video tag at offset 409 truncated: 100 of 3460"), std::string::npos)
      << status.message();
}

struct LegacyFile {
  const char* name;
  Codec video;          // unknown: audio only
  std::uint8_t video_codec_id;
  std::size_t video_frames;
  std::size_t key_frames;
  Codec audio;
  std::uint8_t sound_format;
  std::uint32_t sample_rate_hz;
  std::size_t audio_frames;
};

class LegacyFiles : public ::testing::TestWithParam<LegacyFile> {};

TEST_P(LegacyFiles, CodecsAndFrameCountsMatchFfprobe) {
  const LegacyFile& expected = GetParam();
  Bytes file = read_testdata(expected.name);
  ASSERT_FALSE(file.empty()) << expected.name;
  std::size_t video_frames = 0, key_frames = 0, audio_frames = 0;
  for (const Tag& tag : read_tags(file, 777)) {
    if (tag.type == TagType::script) continue;
    TagInfo info = info_of(tag);
    if (tag.type == TagType::video) {
      ++video_frames;
      key_frames += info.flags.is_key_frame;
      EXPECT_EQ(info.codec, expected.video);
      EXPECT_EQ(info.legacy_codec_id, expected.video_codec_id);
      EXPECT_EQ(info.payload_offset, 1u);
    } else {
      ++audio_frames;
      EXPECT_EQ(info.codec, expected.audio);
      EXPECT_EQ(info.legacy_codec_id, expected.sound_format);
      EXPECT_EQ(info.legacy_audio.sample_rate_hz, expected.sample_rate_hz);
      EXPECT_EQ(info.legacy_audio.channels, 1);
      // Our writer produces the byte ffmpeg wrote for the same format.
      auto header = write_legacy_audio_header(info.codec, PacketType::coded_frames, info.legacy_audio);
      ASSERT_TRUE(header) << header.error().message();
      EXPECT_EQ(header->bytes[0], tag.body[0]) << expected.name;
    }
  }
  EXPECT_EQ(video_frames, expected.video_frames);
  EXPECT_EQ(key_frames, expected.key_frames);
  EXPECT_EQ(audio_frames, expected.audio_frames);
}

INSTANTIATE_TEST_SUITE_P(
    Ffmpeg, LegacyFiles,
    ::testing::Values(LegacyFile{"legacy_h263_mp3.flv", Codec::sorenson_h263, 2, 3, 1, Codec::mp3, 2, 22050, 14},
                      LegacyFile{"legacy_screen_nelly8k.flv", Codec::screen_video, 3, 3, 3, Codec::nellymoser, 5, 8000,
                                 11},
                      LegacyFile{"legacy_screen2_speex.flv", Codec::screen_video, 6, 3, 1, Codec::speex, 11, 16000, 15},
                      LegacyFile{"legacy_adpcm.flv", Codec::unknown, 0, 0, 0, Codec::adpcm, 1, 22050, 1},
                      LegacyFile{"legacy_pcm_le.flv", Codec::unknown, 0, 0, 0, Codec::pcm, 3, 22050, 2},
                      LegacyFile{"legacy_alaw.flv", Codec::unknown, 0, 0, 0, Codec::pcma, 7, 8000, 1},
                      LegacyFile{"legacy_mulaw.flv", Codec::unknown, 0, 0, 0, Codec::pcmu, 8, 8000, 1}),
    [](const ::testing::TestParamInfo<LegacyFile>& param) {
      std::string name = param.param.name;
      name = name.substr(0, name.find('.'));
      return name;
    });

}  // namespace
}  // namespace weir::formats::flv
