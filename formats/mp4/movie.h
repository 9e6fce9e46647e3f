// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The MP4 movie header (moov) built from a sample index, as a recording or a file still being
/// written needs it: the tracks' codec configurations and, for each sample, where its bytes are in
/// the file, its size, decode time, composition offset and whether it is a key frame.
///
///     ftyp | mdat header (64-bit size) | sample bytes (anywhere in mdat, in any order) | moov
///
/// Each sample is its own chunk (stsc has one entry, stco/co64 one offset per sample), so the bytes
/// between samples (the recorder's frame records, recording.h) are never read by a player. Times
/// are milliseconds (the kernel's MediaFrame clock): timescale 1000 for the movie and every track.
/// Codecs: H.264 (avc1 + avcC), HEVC (hvc1 + hvcC), AAC (mp4a + esds), Opus (Opus + dOps).
/// Stateless; no I/O; bad input is Errc::malformed or Errc::unsupported naming the track.

#include <cstdint>
#include <span>
#include <vector>

#include "weir/media.h"
#include "weir/status.h"

namespace weir::formats::mp4 {

/// One track: its codec and the configuration a sequence header carried
/// (AVCDecoderConfigurationRecord, HEVCDecoderConfigurationRecord, AudioSpecificConfig, OpusHead).
struct Track {
  Codec codec = Codec::unknown;
  std::vector<std::uint8_t> config;
};

/// One sample of the index.
struct Sample {
  std::uint32_t track = 0;     ///< index into the tracks
  std::uint64_t offset = 0;    ///< of its first byte in the file
  std::uint32_t size = 0;
  std::int64_t dts_ms = 0;     ///< decode time; samples of a track come in decode order
  std::int32_t cts_offset_ms = 0;  ///< presentation minus decode time (B-frames)
  bool is_key = false;         ///< a sync sample (always true for audio)
};

/// The file's first bytes: ftyp, then an mdat header with a 64-bit size of 0 (patched when the
/// file is finished: mdat_size_patch()). Its length is kFileStartSize.
std::vector<std::uint8_t> file_start();
inline constexpr std::size_t kFtypSize = 32;
inline constexpr std::size_t kFileStartSize = kFtypSize + 16;

/// The 8 bytes to write at offset kFtypSize + 8 so that mdat spans [kFtypSize, moov_offset).
std::vector<std::uint8_t> mdat_size_patch(std::uint64_t moov_offset);

/// The moov box. Samples whose track has no configuration, or whose bytes lie outside
/// [kFileStartSize, data_end), are an error naming them; a track without samples is left out.
/// Times start at the earliest sample (a track that starts later gets an empty edit first).
Result<std::vector<std::uint8_t>> build_moov(std::span<const Track> tracks, std::span<const Sample> samples,
                                            std::uint64_t data_end);

}  // namespace weir::formats::mp4
