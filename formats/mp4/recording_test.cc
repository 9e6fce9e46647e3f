// SPDX-License-Identifier: Apache-2.0
// Recordings written from the frames of an FLV file ffmpeg made (formats/flv/testdata), finished
// and played by ffprobe/ffmpeg; then cut at every kind of place, as a crash leaves them, scanned,
// repaired and played again. Where ffmpeg is not installed those checks skip (CI installs it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "formats/flv/flv_file.h"
#include "formats/flv/media_tag.h"
#include "formats/flv/test_files.h"
#include "formats/mp4/box_writer.h"
#include "formats/mp4/movie.h"
#include "formats/mp4/recording.h"

namespace weir::formats::mp4 {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Recorded {
  Bytes unfinished;  // the file before finish(): what a crash leaves, at best
  Bytes finished;
  std::vector<Sample> samples;
  std::size_t video_frames = 0, audio_frames = 0;
};

// Records h264_aac.flv (50 H.264 frames, 88 AAC frames) as mod_file will: each sequence header
// describes its track, each frame is a record and its bytes.
Recorded record_test_file() {
  Recorded out;
  RecordingWriter writer;
  out.unfinished = writer.start();
  Bytes file = flv::test::read_testdata("h264_aac.flv");
  EXPECT_EQ(file.size(), 66459u) << "formats/flv/testdata/h264_aac.flv missing";
  flv::FlvReader reader;
  reader.feed(file);
  while (true) {
    auto tag = reader.next();
    EXPECT_TRUE(tag) << tag.error().message();
    if (!tag || !*tag) break;
    if ((*tag)->type == flv::TagType::script) continue;
    auto info = flv::parse_tag_info((*tag)->type, (*tag)->body);
    EXPECT_TRUE(info) << info.error().message();
    if (!info || info->is_sequence_end) continue;
    const std::uint32_t track = info->kind == MediaKind::video ? 0 : 1;
    std::span<const std::uint8_t> payload = (*tag)->body.subspan(info->payload_offset);
    if (info->flags.is_sequence_header) {
      auto record = writer.describe(track, Track{info->codec, Bytes(payload.begin(), payload.end())});
      EXPECT_TRUE(record) << record.error().message();
      if (record) out.unfinished.insert(out.unfinished.end(), record->begin(), record->end());
      continue;
    }
    // A frame arrives as page slices: two parts here, so the checksum runs over parts.
    const std::size_t half = payload.size() / 2;
    const std::span<const std::uint8_t> parts[] = {payload.first(half), payload.subspan(half)};
    const bool key = info->kind == MediaKind::audio || info->flags.is_key_frame;
    auto record = writer.sample(track, (*tag)->timestamp_ms, info->composition_time_ms, key, parts);
    EXPECT_TRUE(record) << record.error().message();
    if (!record) continue;
    out.unfinished.insert(out.unfinished.end(), record->begin(), record->end());
    out.unfinished.insert(out.unfinished.end(), payload.begin(), payload.end());
    (track == 0 ? out.video_frames : out.audio_frames)++;
  }
  EXPECT_EQ(writer.size(), out.unfinished.size());
  out.samples = writer.samples();
  auto moov = writer.finish();
  EXPECT_TRUE(moov) << moov.error().message();
  out.finished = out.unfinished;
  if (moov) {
    const Bytes patch = mdat_size_patch(out.finished.size());
    std::copy(patch.begin(), patch.end(), out.finished.begin() + kFtypSize + 8);
    out.finished.insert(out.finished.end(), moov->begin(), moov->end());
  }
  return out;
}

// What a repair makes of `bytes`: cut at the last record that checks out, moov appended.
struct Repaired {
  Bytes file;
  std::vector<Sample> samples;
  std::string stop_reason;
};
Repaired repair(const Bytes& bytes, std::size_t feed_size = 4096) {
  RecordingScanner scanner;
  for (std::size_t at = 0; at < bytes.size(); at += feed_size) {
    Status s = scanner.feed(std::span<const std::uint8_t>(bytes).subspan(at, std::min(feed_size, bytes.size() - at)));
    EXPECT_TRUE(s) << s.message();
  }
  Repaired out{Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(scanner.valid_end())), scanner.samples(),
               scanner.stop_reason()};
  if (scanner.samples().empty()) return out;
  auto moov = build_moov(scanner.tracks(), scanner.samples(), scanner.valid_end());
  EXPECT_TRUE(moov) << moov.error().message();
  if (!moov) return out;
  const Bytes patch = mdat_size_patch(out.file.size());
  std::copy(patch.begin(), patch.end(), out.file.begin() + kFtypSize + 8);
  out.file.insert(out.file.end(), moov->begin(), moov->end());
  return out;
}

bool have(const char* tool) { return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0; }

std::string run(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
    ::pclose(p);
  }
  return out;
}

class TempFile {
 public:
  explicit TempFile(const Bytes& bytes) {
    path_ = std::filesystem::temp_directory_path() / ("weir-mp4-test-" + std::to_string(::getpid()) + "-" + std::to_string(next_++) + ".mp4");
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int next_ = 0;
  std::filesystem::path path_;
};

// ffprobe's decoded frame counts per codec ("h264" -> 50), and ffmpeg's decode errors (empty when
// it decodes cleanly).
struct Played {
  std::map<std::string, int> frames;
  std::map<std::string, double> start_time;  // seconds
  std::string stream_line;
  std::string decode_errors;
};
Played play(const Bytes& bytes) {
  TempFile file(bytes);
  Played out;
  std::string lines = run("ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames,width,height,sample_rate -of csv=p=0 '" +
                          file.path() + "' 2>&1");
  out.stream_line = lines;
  std::size_t at = 0;
  while (at < lines.size()) {
    std::size_t end = lines.find('\n', at);
    std::string line = lines.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? lines.size() : end + 1;
    const std::size_t comma = line.find(',');
    const std::size_t last = line.rfind(',');
    if (comma == std::string::npos) continue;
    out.frames[line.substr(0, comma)] = std::atoi(line.substr(last + 1).c_str());
  }
  std::string starts = run("ffprobe -v error -show_entries stream=codec_name,start_time -of csv=p=0 '" + file.path() + "' 2>&1");
  for (std::size_t s = 0; s < starts.size();) {
    std::size_t end = starts.find('\n', s);
    std::string line = starts.substr(s, end == std::string::npos ? std::string::npos : end - s);
    s = end == std::string::npos ? starts.size() : end + 1;
    if (std::size_t comma = line.find(','); comma != std::string::npos)
      out.start_time[line.substr(0, comma)] = std::atof(line.substr(comma + 1).c_str());
  }
  out.decode_errors = run("ffmpeg -nostdin -v error -i '" + file.path() + "' -f null - 2>&1");
  return out;
}

TEST(Recording, AFinishedRecordingIsAnMp4FfprobeReadsWithEveryFrame) {
  Recorded r = record_test_file();
  ASSERT_EQ(r.video_frames, 50u);
  ASSERT_EQ(r.audio_frames, 88u);
  if (!have("ffprobe") || !have("ffmpeg")) GTEST_SKIP() << "no ffprobe/ffmpeg (Debian: ffmpeg)";
  Played played = play(r.finished);
  EXPECT_EQ(played.frames["h264"], 50) << played.stream_line;
  EXPECT_EQ(played.frames["aac"], 88) << played.stream_line;
  EXPECT_NE(played.stream_line.find("h264,640,360,50"), std::string::npos) << played.stream_line;
  EXPECT_NE(played.stream_line.find("aac,44100,88"), std::string::npos) << played.stream_line;
  EXPECT_EQ(played.decode_errors, "");
  // In sync as the FLV was (ffmpeg's own remux of it starts video 23 ms after audio).
  EXPECT_NEAR(played.start_time["aac"], 0.0, 0.001);
  EXPECT_NEAR(played.start_time["h264"], 0.023, 0.002);
}

TEST(Recording, TheScannerReadsBackTheWritersIndexAndStopsAtTheEndOfAFinishedFile) {
  Recorded r = record_test_file();
  for (std::size_t feed : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, r.finished.size()}) {
    RecordingScanner scanner;
    for (std::size_t at = 0; at < r.finished.size(); at += feed)
      ASSERT_TRUE(scanner.feed(std::span<const std::uint8_t>(r.finished).subspan(at, std::min(feed, r.finished.size() - at))));
    EXPECT_TRUE(scanner.is_finished());
    EXPECT_EQ(scanner.valid_end(), r.unfinished.size()) << "fed " << feed << " bytes at a time";
    ASSERT_EQ(scanner.samples().size(), r.samples.size());
    for (std::size_t i = 0; i < r.samples.size(); ++i) {
      const Sample &a = scanner.samples()[i], &b = r.samples[i];
      EXPECT_TRUE(a.track == b.track && a.offset == b.offset && a.size == b.size && a.dts_ms == b.dts_ms &&
                  a.cts_offset_ms == b.cts_offset_ms && a.is_key == b.is_key)
          << "sample " << i;
    }
    ASSERT_EQ(scanner.tracks().size(), 2u);
    EXPECT_EQ(scanner.tracks()[0].codec, Codec::h264);
    EXPECT_EQ(scanner.tracks()[1].codec, Codec::aac);
  }
}

TEST(Recording, ACutAnywhereIsRepairedToEveryWholeFrameBeforeIt) {
  Recorded r = record_test_file();
  const bool can_play = have("ffprobe") && have("ffmpeg");
  // Cuts inside a record's header, inside a frame's bytes, right after a frame, and the whole
  // unfinished file (a crash before the moov was written).
  const Sample& middle = r.samples[r.samples.size() / 2];
  const std::vector<std::size_t> cuts{middle.offset - kRecordSize + 5, middle.offset + middle.size / 2,
                                      middle.offset + middle.size, r.unfinished.size()};
  for (std::size_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Bytes crashed(r.unfinished.begin(), r.unfinished.begin() + static_cast<std::ptrdiff_t>(cut));
    Repaired fixed = repair(crashed);
    std::size_t expected = 0, video = 0, audio = 0;
    for (const Sample& s : r.samples)
      if (s.offset + s.size <= cut) {
        ++expected;
        (s.track == 0 ? video : audio)++;
      }
    EXPECT_EQ(fixed.samples.size(), expected);
    if (!can_play) continue;
    Played played = play(fixed.file);
    EXPECT_EQ(played.frames["h264"], static_cast<int>(video)) << played.stream_line;
    EXPECT_EQ(played.frames["aac"], static_cast<int>(audio)) << played.stream_line;
    EXPECT_EQ(played.decode_errors, "");
  }
}

TEST(Recording, ATornFrameEndsTheRepairedFileBeforeIt) {
  Recorded r = record_test_file();
  // The OS wrote the file's size but not one frame's bytes (zeros), nor anything after.
  const Sample& torn = r.samples[60];
  Bytes crashed = r.unfinished;
  std::fill(crashed.begin() + static_cast<std::ptrdiff_t>(torn.offset + 10), crashed.end(), 0);
  Repaired fixed = repair(crashed);
  EXPECT_EQ(fixed.samples.size(), 60u);
  EXPECT_EQ(fixed.stop_reason, "the bytes of the record at offset " + std::to_string(torn.offset - kRecordSize) +
                                   " do not check out");
  // A flipped bit in a record's header is caught by its own checksum.
  crashed = r.unfinished;
  crashed[torn.offset - kRecordSize + 9] ^= 0x40;
  fixed = repair(crashed);
  EXPECT_EQ(fixed.samples.size(), 60u);
  EXPECT_EQ(fixed.stop_reason, "a record's header does not check out at offset " + std::to_string(torn.offset - kRecordSize));
}

TEST(Recording, WhatIsNotARecordIsRefusedAndNothingIsRepairedFromTheStartAlone) {
  RecordingScanner scanner;
  Bytes flv = flv::test::read_testdata("h264_aac.flv");
  EXPECT_EQ(scanner.feed(flv).code(), Errc::malformed);
  // Only the file start: no tracks, no samples, nothing to cut.
  Repaired fixed = repair(file_start());
  EXPECT_TRUE(fixed.samples.empty());
  EXPECT_EQ(fixed.file.size(), kFileStartSize);
}

TEST(Recording, TheWriterRefusesWhatItCannotRecordNamingTheTrack) {
  RecordingWriter writer;
  writer.start();
  const Bytes config{1, 2, 3};
  EXPECT_EQ(writer.describe(0, Track{Codec::vp6, config}).error().message(),
            "track 0: vp6 is not recorded to MP4 (h264, hevc, aac, opus are)");
  ASSERT_TRUE(writer.describe(1, Track{Codec::aac, Bytes{0x12, 0x10}}));
  EXPECT_TRUE(writer.describe(1, Track{Codec::aac, Bytes{0x12, 0x10}})) << "the same again is nothing";
  EXPECT_EQ(writer.describe(1, Track{Codec::aac, Bytes{0x11, 0x90}}).error().code(), Errc::exists);
  const std::span<const std::uint8_t> part(config);
  const std::span<const std::uint8_t> parts[] = {part};
  EXPECT_EQ(writer.sample(0, 0, 0, true, parts).error().code(), Errc::not_found);
  ASSERT_TRUE(writer.sample(1, 100, 0, true, parts));
  EXPECT_EQ(writer.sample(1, 99, 0, true, parts).error().message(), "track 1: decode time 99 ms after 100 ms");
}

TEST(Movie, SamplesPastFourGibibytesTakeSixtyFourBitOffsetsAndALateTrackAnEmptyEdit) {
  const Bytes asc{0x12, 0x10};  // AAC LC, 44.1 kHz, stereo
  std::vector<Track> tracks{Track{Codec::aac, asc}, Track{Codec::aac, asc}};
  std::vector<Sample> samples{{0, kFileStartSize + 100, 10, 1000, 0, true},
                              {0, 5'000'000'000ull, 10, 1023, 0, true},
                              {1, kFileStartSize + 200, 10, 1500, 0, true}};
  auto moov = build_moov(tracks, samples, 6'000'000'000ull);
  ASSERT_TRUE(moov) << moov.error().message();
  std::string text(moov->begin(), moov->end());
  EXPECT_NE(text.find("co64"), std::string::npos);
  EXPECT_NE(text.find("stco"), std::string::npos) << "the second track stays 32-bit";
  EXPECT_NE(text.find("elst"), std::string::npos) << "track 2 starts 500 ms after track 1";
  EXPECT_EQ(build_moov(tracks, samples, 4'000'000'000ull).error().message(),
            "sample at offset 5000000000 (10 bytes) lies outside the media data (up to 4000000000)");
  EXPECT_EQ(build_moov(tracks, {}, 100).error().message(), "no samples");
}

}  // namespace
}  // namespace weir::formats::mp4
