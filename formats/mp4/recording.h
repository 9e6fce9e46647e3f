// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// A recording as it is written, so that a crash loses at most what the OS had not written yet:
///
///     ftyp | mdat [record][sample bytes] [record][sample bytes] ... | moov (once finished)
///
///     record, 32 bytes, big-endian:
///       "WRec" | kind (1) | track (1) | flags (1) | 0 | size (4) | dts ms (8, signed)
///       | cts offset ms (4, signed) | CRC-32 of the bytes that follow (4) | CRC-32 of bytes 0-27 (4)
///     kind 1: a sample of `track` (flags bit 0: key frame), `size` bytes of it follow;
///     kind 2: `track`'s description: codec (1) then its configuration (size - 1 bytes).
///
/// The records are the index (the input of the sample tables), in the file itself: each one
/// written and flushed with its frame, so no separate index can disagree with the data. A finished
/// file is an ordinary MP4 (its moov's sample offsets skip the records, which players never read).
/// An unfinished one (a crash, a power cut) is repaired from its records: RecordingScanner reads
/// them from mdat's start and stops at the first one whose header or bytes do not check out (the
/// part the OS had not written, or wrote torn); the file is cut there and the moov appended.
/// No I/O here: mod_file writes (on its worker pool) what RecordingWriter returns, and feeds
/// RecordingScanner what it reads.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/mp4/movie.h"
#include "weir/status.h"

namespace weir::formats::mp4 {

inline constexpr std::size_t kRecordSize = 32;
/// Tracks a recording may have.
inline constexpr std::uint32_t kMaxRecordingTracks = 16;
/// The largest sample or description a record may announce (a corrupt size stops the scan).
inline constexpr std::uint32_t kMaxRecordBytes = 64u << 20;

/// CRC-32 (IEEE 802.3, as zlib's crc32) of `bytes`, continuing from `crc` (0 to start).
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0) noexcept;

/// Builds a recording's bytes; the caller appends them to the file in the order they come.
/// Owner only.
class RecordingWriter {
 public:
  using Parts = std::span<const std::span<const std::uint8_t>>;

  /// The file's first bytes (file_start()).
  std::vector<std::uint8_t> start();
  /// `track`'s description record, to append before its first sample. Errc::unsupported for a
  /// codec MP4 does not get here or a track past kMaxRecordingTracks; Errc::exists when the track
  /// was described with another configuration (a new configuration needs a new file).
  Result<std::vector<std::uint8_t>> describe(std::uint32_t track, const Track& description);
  /// Whether `track` has been described.
  bool has_track(std::uint32_t track) const noexcept { return track < tracks_.size() && !tracks_[track].config.empty(); }
  /// The record to append in front of a sample of `track` whose bytes are `payload` (the parts in
  /// order, as a frame's page slices; appended right after the record). The sample joins the
  /// index. Errc::not_found for a track not described, Errc::limit past kMaxRecordBytes,
  /// Errc::malformed for a decode time before the track's last.
  Result<std::array<std::uint8_t, kRecordSize>> sample(std::uint32_t track, std::int64_t dts_ms, std::int32_t cts_offset_ms,
                                                       bool is_key, Parts payload);
  /// The bytes written so far (where the next record goes).
  std::uint64_t size() const noexcept { return size_; }
  const std::vector<Sample>& samples() const noexcept { return samples_; }
  const std::vector<Track>& tracks() const noexcept { return tracks_; }
  /// The moov to append at size(); then write mdat_size_patch(size() before the moov) at
  /// kFtypSize + 8 and the file is finished.
  Result<std::vector<std::uint8_t>> finish() const;

 private:
  std::vector<Track> tracks_;
  std::vector<Sample> samples_;
  std::vector<std::int64_t> last_dts_;
  std::uint64_t size_ = 0;
};

/// Reads a recording's records from its first byte, fed in order in spans of any size, keeping
/// only the index (payloads are checked as they pass, never held). Owner only.
class RecordingScanner {
 public:
  /// Errc::malformed when the file does not start as a recording (no ftyp, no 64-bit mdat): it
  /// is then not one of ours to repair. Damage past the start is not an error: the scan stops.
  Status feed(std::span<const std::uint8_t> bytes);
  /// The scan met a record that does not check out (or mdat's end, for a finished file): what
  /// follows is not read.
  bool stopped() const noexcept { return stopped_; }
  /// Why it stopped ("a record's checksum does not match at offset 123456"); empty when it did not.
  const std::string& stop_reason() const noexcept { return stop_reason_; }
  /// The offset just past the last record (with its bytes) that checked out: where to cut.
  std::uint64_t valid_end() const noexcept { return valid_end_; }
  /// The file's mdat size field was set: the file was finished (and needs no repair).
  bool is_finished() const noexcept { return mdat_size_ != 0; }
  const std::vector<Track>& tracks() const noexcept { return tracks_; }
  const std::vector<Sample>& samples() const noexcept { return samples_; }

 private:
  void stop(std::string reason);
  void on_header();
  void on_payload_end();

  std::vector<std::uint8_t> buffer_;  // the file start, a record header, or a description
  std::uint64_t offset_ = 0;          // bytes fed so far
  bool started_ = false;
  bool stopped_ = false;
  std::string stop_reason_;
  std::uint64_t valid_end_ = 0;
  std::uint64_t mdat_size_ = 0;
  // The record being read: its header fields, and how much of its payload is still to come.
  std::array<std::uint8_t, kRecordSize> header_{};
  bool in_payload_ = false;
  std::uint64_t record_offset_ = 0;
  std::uint32_t remaining_ = 0;
  std::uint32_t crc_ = 0;
  std::vector<Track> tracks_;
  std::vector<Sample> samples_;
};

}  // namespace weir::formats::mp4
