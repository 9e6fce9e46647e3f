// SPDX-License-Identifier: Apache-2.0
#pragma once
// Recorder: one live stream recorded to one MP4 file in formats/mp4's crash-safe layout.
//
//   publish of a key [file] record names (Registrar::on_stream_published, the publisher's group)
//     --> FileGroup::start(key) --> Recorder: a subscriber of the stream on that group
//   frames --> RecordingWriter: a 32-byte record per frame, the frame's page slices as they are
//     --> DiskFile queue --> a drain job on the worker pool: writev, fdatasync every flush_interval
//   unpublished (after the grace period), the server stopping, the disk failing or falling
//   behind by record_queue --> finish: the moov, mdat's size; the recording's last log line
//
// Video is track 0, audio track 1. A publisher that returns within the grace period goes on in
// the same file, its timestamps moved to continue from the last frame written; a codec
// configuration that changes, or a segment that is complete ([file] segment_duration,
// segment_size: at a video key frame), ends the file and starts the next one. Thread: the group's.

#include <memory>
#include <string>

#include "disk_file.h"
#include "file_config.h"
#include "formats/mp4/recording.h"
#include "weir/log.h"
#include "weir/poll_group.h"
#include "weir/stats.h"
#include "weir/stream.h"

namespace weir::file {

struct FileCounters {
  CounterId started, finished, failed, frames, bytes_queued;
};

class Recorder final : public StreamSubscriber, public std::enable_shared_from_this<Recorder> {
 public:
  /// `on_file_done` runs (on the group) after each file of this recording is finished on disk.
  Recorder(PollGroup& group, const FileConfig& config, const FileCounters& counters, const Logger& logger, StreamKey key,
           std::function<void()> on_file_done);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  /// Subscribes; Errc::denied when the stream cannot be subscribed to (load shedding).
  Status start();
  const StreamKey& key() const noexcept { return key_; }
  /// Finished (unpublished, failed): the group may drop it.
  bool is_done() const noexcept { return done_; }

  void on_frames(std::span<const MediaFrame> frames) noexcept override;
  void on_stream_event(StreamEvent event) noexcept override;

 private:
  void open_file();
  /// Time for the next segment before `frame` (a video key frame, or any frame without video).
  bool segment_due(const MediaFrame& frame, std::int64_t dts) const noexcept;
  void record(const MediaFrame& frame);
  /// Ends the current file (the moov queued after its frames) and logs `why`.
  void close_file(std::string_view why);
  void stop(std::string_view why);
  /// Hands the batch to the file's queue: one lock per delivery, not per frame.
  void submit();
  void kick();
  /// Starts a drain of `file`, and the ones after it while more is queued; once the file is
  /// finished, its finish callback runs (on the group).
  static void schedule(PollGroup& group, std::shared_ptr<DiskFile> file, std::weak_ptr<Recorder> recorder);
  void on_disk_error(const Status& status);

  PollGroup& group_;
  const FileConfig& config_;
  const FileCounters& counters_;
  Logger logger_;
  const StreamKey key_;
  std::function<void()> on_file_done_;
  std::unique_ptr<Subscription> subscription_;
  std::unique_ptr<formats::mp4::RecordingWriter> writer_;
  std::shared_ptr<DiskFile> file_;
  std::vector<DiskFile::Item> batch_;  // for file_, queued in this delivery
  // The tracks' configurations, for the next segment's file.
  formats::mp4::Track tracks_[2];
  std::int64_t file_start_dts_ = -1;  // of the current file's first frame (segments)
  std::int64_t offset_ms_ = 0;        // added to the stream's timestamps (a returning publisher)
  std::int64_t last_dts_ms_ = -1;     // the last written, after the offset
  bool rebase_ = false;               // the next frame sets offset_ms_
  bool have_video_key_ = false;       // video starts at a key frame
  bool done_ = false;
  Clock::time_point started_at_{};
};

}  // namespace weir::file
