// SPDX-License-Identifier: Apache-2.0
#pragma once
// [file]: what is recorded, where, and how often it reaches the disk (docs/mod_file.md).

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "weir/config.h"
#include "weir/status.h"
#include "weir/stream.h"

namespace weir::file {

struct FileConfig {
  /// Streams recorded from their first publish: "live" (every stream of the app) or
  /// "live/cam*" (names matching a glob: * any run, ? one character).
  std::vector<std::string> record;
  std::string record_dir = "/var/lib/weir/recordings";
  /// Relative to record_dir: {app}, {name}, {start:STRFTIME} (local time).
  std::string record_file = "{app}/{name}-{start:%Y%m%d-%H%M%S}.mp4";
  /// How often what was written is forced to the disk (fdatasync): what a power cut may lose.
  std::chrono::milliseconds flush_interval{1000};
  /// Bytes of a recording waiting for the disk before that recording is stopped.
  std::uint64_t record_queue = 16ull << 20;
  /// Repair the recordings a crash left unfinished in record_dir when the server starts.
  bool repair_on_start = true;
  /// A recording goes on in a new file after this long / this many bytes (at the next video key
  /// frame); 0: one file per publication.
  std::chrono::milliseconds segment_duration{0};
  std::uint64_t segment_size = 0;
  /// Recordings in record_dir older than this (by their last write) are deleted; 0: kept.
  std::chrono::milliseconds retention_age{0};
  /// Past this total size of record_dir's recordings the oldest are deleted; 0: no limit.
  std::uint64_t retention_size = 0;
  /// Finished recordings are downloadable over HTTP (mod_http) under this path; empty: off.
  std::string http_prefix = "/recordings/";

  bool should_record(const StreamKey& key) const;
  /// The file of a recording of `key` starting at `start`, relative to record_dir; the app and
  /// name are made safe for a path ('/' and a leading '.' become '_').
  std::string file_for(const StreamKey& key, std::time_t start) const;

  static Result<FileConfig> parse(const ConfigView& view);
};

/// Whether `text` matches `pattern` (* any run, ? one character).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace weir::file
