// SPDX-License-Identifier: Apache-2.0
#pragma once
// DiskFile: the disk side of one recording. The recorder (on its poll group) appends what
// RecordingWriter made (records, and the frames' page slices: no copy) under the queue's lock;
// one drain job at a time, on the worker pool, takes the queue and writes it (writev), forcing it
// to the disk (fdatasync) every flush_interval. The last item finishes the file: the moov at the
// end, mdat's size in its header, a last fdatasync, close.
//
//   recorder (group) --append()--> [items] --drain() on a worker--> file
//                    <--Status--   (done, back on the group: a failure stops that recording)
//
// Everything but the queue is the drain job's alone (jobs of one file never overlap).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "weir/pages.h"
#include "weir/status.h"

namespace weir::file {

class DiskFile {
 public:
  /// `path` is created (with its directories) by the first drain; an existing file is never
  /// overwritten (a suffix "-1", "-2"... is added).
  DiskFile(std::string path, std::chrono::milliseconds flush_interval);
  ~DiskFile();

  struct Item {
    std::vector<std::uint8_t> bytes;  // written first
    std::vector<PageSlice> slices;    // then these
  };
  /// Queues `items` in order; true when a drain must be started (none is running or due).
  bool append(std::vector<Item> items);
  /// Queues the end of the file: `moov` written where the data ends, mdat's size patched; an
  /// empty `moov` (nothing was recorded) removes the file instead.
  /// `then` runs on the recorder's group once the file is finished on disk.
  bool finish(std::vector<std::uint8_t> moov, std::vector<std::uint8_t> mdat_size, std::function<void()> then = {});
  /// The finish callback, once the file is finished (then empty); the recorder's group only.
  std::function<void()> take_finished_callback();
  /// Writes what is queued (worker pool). Ok, or the error that stopped the file (the queue is
  /// dropped then, and later drains do nothing).
  Status drain();
  /// After drain() returned: more was queued meanwhile, so another drain is due.
  bool more_to_drain();

  std::uint64_t queued_bytes() const noexcept { return queued_.load(std::memory_order_relaxed); }
  std::uint64_t written_bytes() const noexcept { return written_.load(std::memory_order_relaxed); }
  /// The file's path once created (with any suffix); the configured one before.
  std::string path() const;

 private:
  Status open_file();
  Status write_items(std::deque<Item>& items);

  mutable std::mutex mutex_;
  std::deque<Item> items_;
  bool draining_ = false;
  bool finish_queued_ = false;
  std::vector<std::uint8_t> moov_, mdat_size_;
  std::function<void()> then_;  // called on the group, never by the drain
  std::string path_;
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> written_{0};

  // The drain job's.
  int fd_ = -1;
  const std::chrono::milliseconds flush_interval_;
  std::chrono::steady_clock::time_point synced_at_{};
  Status failed_;
  bool finished_ = false;
};

/// Whether `path` is not a recording still being written (or one a crash left unfinished): a
/// finished recording, or a file that is not a recording at all (a file shorter than a
/// recording's start is taken for one being created). Blocking (reads 48 bytes).
bool is_finished_file(const std::string& path);

/// Repairs a recording a crash left unfinished: reads its records, cuts it after the last one
/// that checks out, appends the moov. Blocking (the worker pool). `kept_ms` gets the duration kept.
/// A file that is not an unfinished recording is left alone (Errc::exists: finished already;
/// Errc::malformed: not a recording).
Status repair_recording(const std::string& path, std::int64_t& kept_ms);

}  // namespace weir::file
