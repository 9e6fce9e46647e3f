// SPDX-License-Identifier: Apache-2.0
#include "formats/mp4/recording.h"

#include <algorithm>
#include <cstring>

#include "weir/text.h"

namespace weir::formats::mp4 {
namespace {

constexpr std::uint8_t kSampleRecord = 1;
constexpr std::uint8_t kTrackRecord = 2;
constexpr std::uint8_t kKeyFlag = 1;
constexpr char kMagic[4] = {'W', 'R', 'e', 'c'};

struct CrcTable {
  std::uint32_t entries[256];
  constexpr CrcTable() : entries() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      entries[i] = c;
    }
  }
};
constexpr CrcTable kCrc;

void put32(std::uint8_t* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint32_t get32(const std::uint8_t* at) {
  return static_cast<std::uint32_t>(at[0]) << 24 | static_cast<std::uint32_t>(at[1]) << 16 |
         static_cast<std::uint32_t>(at[2]) << 8 | at[3];
}

std::array<std::uint8_t, kRecordSize> make_record(std::uint8_t kind, std::uint32_t track, std::uint8_t flags,
                                                  std::uint32_t size, std::int64_t dts, std::int32_t cts,
                                                  std::uint32_t payload_crc) {
  std::array<std::uint8_t, kRecordSize> r{};
  std::memcpy(r.data(), kMagic, 4);
  r[4] = kind;
  r[5] = static_cast<std::uint8_t>(track);
  r[6] = flags;
  put32(r.data() + 8, size);
  const auto udts = static_cast<std::uint64_t>(dts);
  put32(r.data() + 12, static_cast<std::uint32_t>(udts >> 32));
  put32(r.data() + 16, static_cast<std::uint32_t>(udts));
  put32(r.data() + 20, static_cast<std::uint32_t>(cts));
  put32(r.data() + 24, payload_crc);
  put32(r.data() + 28, crc32(std::span<const std::uint8_t>(r.data(), 28)));
  return r;
}

bool supported(Codec codec) noexcept {
  return codec == Codec::h264 || codec == Codec::hevc || codec == Codec::aac || codec == Codec::opus;
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) noexcept {
  crc = ~crc;
  for (std::uint8_t b : bytes) crc = kCrc.entries[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::vector<std::uint8_t> RecordingWriter::start() {
  size_ = kFileStartSize;
  return file_start();
}

Result<std::vector<std::uint8_t>> RecordingWriter::describe(std::uint32_t track, const Track& description) {
  if (track >= kMaxRecordingTracks) return error(Errc::unsupported, "track {}: a recording has at most {} tracks", track, kMaxRecordingTracks);
  if (!supported(description.codec))
    return error(Errc::unsupported, "track {}: {} is not recorded to MP4 (h264, hevc, aac, opus are)", track,
                 codec_name(description.codec));
  if (description.config.empty() || description.config.size() + 1 > kMaxRecordBytes)
    return error(Errc::malformed, "track {}: a configuration of {} bytes", track, description.config.size());
  if (track < tracks_.size() && !tracks_[track].config.empty()) {
    if (tracks_[track].codec == description.codec && tracks_[track].config == description.config) return std::vector<std::uint8_t>();
    return error(Errc::exists, "track {}: its configuration changed (a new file takes it)", track);
  }
  if (tracks_.size() <= track) {
    tracks_.resize(track + 1);
    last_dts_.resize(track + 1, INT64_MIN);
  }
  tracks_[track] = description;
  std::vector<std::uint8_t> payload;
  payload.reserve(1 + description.config.size());
  payload.push_back(static_cast<std::uint8_t>(description.codec));
  payload.insert(payload.end(), description.config.begin(), description.config.end());
  auto record = make_record(kTrackRecord, track, 0, static_cast<std::uint32_t>(payload.size()), 0, 0, crc32(payload));
  std::vector<std::uint8_t> out(record.begin(), record.end());
  out.insert(out.end(), payload.begin(), payload.end());
  size_ += out.size();
  return out;
}

Result<std::array<std::uint8_t, kRecordSize>> RecordingWriter::sample(std::uint32_t track, std::int64_t dts_ms,
                                                                      std::int32_t cts_offset_ms, bool is_key,
                                                                      Parts payload) {
  if (!has_track(track)) return error(Errc::not_found, "track {} was not described", track);
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
  for (std::span<const std::uint8_t> part : payload) {
    bytes += part.size();
    crc = crc32(part, crc);
  }
  if (bytes == 0 || bytes > kMaxRecordBytes) return error(Errc::limit, "track {}: a sample of {} bytes", track, bytes);
  if (dts_ms < last_dts_[track])
    return error(Errc::malformed, "track {}: decode time {} ms after {} ms", track, dts_ms, last_dts_[track]);
  last_dts_[track] = dts_ms;
  const std::uint8_t kind_flags = is_key ? kKeyFlag : 0;
  auto record = make_record(kSampleRecord, track, kind_flags, static_cast<std::uint32_t>(bytes), dts_ms, cts_offset_ms, crc);
  samples_.push_back(Sample{track, size_ + kRecordSize, static_cast<std::uint32_t>(bytes), dts_ms, cts_offset_ms, is_key});
  size_ += kRecordSize + bytes;
  return record;
}

Result<std::vector<std::uint8_t>> RecordingWriter::finish() const {
  return build_moov(tracks_, samples_, size_);
}

void RecordingScanner::stop(std::string reason) {
  stopped_ = true;
  stop_reason_ = std::move(reason);
  buffer_.clear();
}

Status RecordingScanner::feed(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty() && !stopped_) {
    if (!started_) {
      const std::size_t take = std::min(bytes.size(), kFileStartSize - buffer_.size());
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      offset_ += take;
      if (buffer_.size() < kFileStartSize) return ok();
      const std::uint8_t* b = buffer_.data();
      if (std::memcmp(b + 4, "ftyp", 4) != 0 || get32(b) != kFtypSize || get32(b + kFtypSize) != 1 ||
          std::memcmp(b + kFtypSize + 4, "mdat", 4) != 0)
        return Status(Errc::malformed, "not a Weir recording: no ftyp of 32 bytes followed by a 64-bit mdat");
      mdat_size_ = static_cast<std::uint64_t>(get32(b + kFtypSize + 8)) << 32 | get32(b + kFtypSize + 12);
      started_ = true;
      valid_end_ = kFileStartSize;
      buffer_.clear();
      continue;
    }
    if (mdat_size_ != 0 && offset_ >= kFtypSize + mdat_size_ && !in_payload_ && buffer_.empty()) {
      stop("the end of mdat (the file was finished)");
      break;
    }
    if (!in_payload_) {
      const std::size_t take = std::min(bytes.size(), kRecordSize - buffer_.size());
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      offset_ += take;
      if (buffer_.size() < kRecordSize) return ok();
      std::copy(buffer_.begin(), buffer_.end(), header_.begin());
      buffer_.clear();
      record_offset_ = offset_ - kRecordSize;
      on_header();
      continue;
    }
    const std::size_t take = std::min<std::size_t>(bytes.size(), remaining_);
    std::span<const std::uint8_t> part = bytes.first(take);
    crc_ = crc32(part, crc_);
    if (header_[4] == kTrackRecord) buffer_.insert(buffer_.end(), part.begin(), part.end());
    bytes = bytes.subspan(take);
    offset_ += take;
    remaining_ -= static_cast<std::uint32_t>(take);
    if (remaining_ == 0) on_payload_end();
  }
  return ok();
}

void RecordingScanner::on_header() {
  const std::uint8_t* h = header_.data();
  if (std::memcmp(h, kMagic, 4) != 0) return stop(format("no record at offset {}", record_offset_));
  if (crc32(std::span<const std::uint8_t>(h, 28)) != get32(h + 28))
    return stop(format("a record's header does not check out at offset {}", record_offset_));
  const std::uint8_t kind = h[4];
  const std::uint32_t track = h[5];
  const std::uint32_t size = get32(h + 8);
  if ((kind != kSampleRecord && kind != kTrackRecord) || track >= kMaxRecordingTracks || size == 0 || size > kMaxRecordBytes)
    return stop(format("a record of kind {}, track {}, {} bytes at offset {}", kind, track, size, record_offset_));
  if (kind == kSampleRecord && (track >= tracks_.size() || tracks_[track].config.empty()))
    return stop(format("a sample of track {} before its description at offset {}", track, record_offset_));
  in_payload_ = true;
  remaining_ = size;
  crc_ = 0;
}

void RecordingScanner::on_payload_end() {
  in_payload_ = false;
  const std::uint8_t* h = header_.data();
  if (crc_ != get32(h + 24)) return stop(format("the bytes of the record at offset {} do not check out", record_offset_));
  const std::uint32_t track = h[5];
  const std::uint32_t size = get32(h + 8);
  if (h[4] == kTrackRecord) {
    Track description{static_cast<Codec>(buffer_[0]), std::vector<std::uint8_t>(buffer_.begin() + 1, buffer_.end())};
    buffer_.clear();
    if (tracks_.size() <= track) tracks_.resize(track + 1);
    if (!tracks_[track].config.empty() && !(tracks_[track].codec == description.codec && tracks_[track].config == description.config))
      return stop(format("track {} described twice, differently, at offset {}", track, record_offset_));
    tracks_[track] = std::move(description);
  } else {
    const std::int64_t dts = static_cast<std::int64_t>(static_cast<std::uint64_t>(get32(h + 12)) << 32 | get32(h + 16));
    const auto cts = static_cast<std::int32_t>(get32(h + 20));
    samples_.push_back(Sample{track, record_offset_ + kRecordSize, size, dts, cts, (h[6] & kKeyFlag) != 0});
  }
  valid_end_ = offset_;
}

}  // namespace weir::formats::mp4
