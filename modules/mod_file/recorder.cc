// SPDX-License-Identifier: Apache-2.0
#include "recorder.h"

#include <ctime>
#include <filesystem>

#include "formats/mp4/movie.h"

namespace weir::file {
namespace mp4 = formats::mp4;
namespace {

// The frame's codec data (past its FLV-style header) as the slices that hold it.
std::vector<PageSlice> codec_data(const MediaFrame& frame) {
  std::vector<PageSlice> out;
  std::uint32_t skip = frame.codec_data_offset;
  for (const PageSlice& slice : frame.payload.slices()) {
    if (skip >= slice.length) {
      skip -= slice.length;
      continue;
    }
    out.push_back(slice.sub(skip, slice.length - skip));
    skip = 0;
  }
  return out;
}

std::uint32_t track_of(const MediaFrame& frame) { return frame.kind == MediaKind::video ? 0 : 1; }

// Audio and video interleave a few tens of milliseconds apart; a publisher's new clock goes back
// much further.
constexpr std::int64_t kJumpBackMs = 1000;

}  // namespace

Recorder::Recorder(PollGroup& group, const FileConfig& config, const FileCounters& counters, const Logger& logger,
                   StreamKey key, std::function<void()> on_file_done)
    : group_(group),
      config_(config),
      counters_(counters),
      logger_(logger),
      key_(std::move(key)),
      on_file_done_(std::move(on_file_done)) {}

Recorder::~Recorder() {
  subscription_.reset();
  if (file_) close_file("the server is stopping");
}

Status Recorder::start() {
  auto subscription = group_.streams().subscribe(key_, *this, SubscribeOptions{true, "file"});
  if (!subscription) return subscription.error();
  subscription_ = std::move(*subscription);
  return ok();
}

void Recorder::open_file() {
  const std::time_t now = std::time(nullptr);
  const std::string path = (std::filesystem::path(config_.record_dir) / config_.file_for(key_, now)).string();
  writer_ = std::make_unique<mp4::RecordingWriter>();
  file_ = std::make_shared<DiskFile>(path, config_.flush_interval);
  have_video_key_ = false;
  started_at_ = group_.now();
  group_.stats().add(counters_.started);
  logger_.info("recording {} to {}", key_.to_string(), path);
  file_start_dts_ = -1;
  batch_.push_back(DiskFile::Item{writer_->start(), {}});
  // A new segment of a stream already described: its tracks first.
  for (std::uint32_t t = 0; t < 2; ++t) {
    if (tracks_[t].config.empty()) continue;
    auto record = writer_->describe(t, tracks_[t]);
    if (record && !record->empty()) batch_.push_back(DiskFile::Item{std::move(*record), {}});
  }
}

bool Recorder::segment_due(const MediaFrame& frame, std::int64_t dts) const noexcept {
  if (file_start_dts_ < 0) return false;
  const bool boundary = frame.kind == MediaKind::video ? frame.flags.is_key_frame : tracks_[0].config.empty();
  if (!boundary) return false;
  if (config_.segment_duration.count() > 0 && dts - file_start_dts_ >= config_.segment_duration.count()) return true;
  return config_.segment_size > 0 && writer_->size() >= config_.segment_size;
}

void Recorder::on_frames(std::span<const MediaFrame> frames) noexcept {
  for (const MediaFrame& frame : frames) {
    if (done_) break;
    record(frame);
  }
  submit();
  if (file_ && file_->queued_bytes() > config_.record_queue) {
    group_.stats().add(counters_.failed);
    stop(format("the disk did not keep up ({} bytes waiting, [file] record_queue)", file_->queued_bytes()));
  }
}

void Recorder::record(const MediaFrame& frame) {
  if (frame.kind != MediaKind::video && frame.kind != MediaKind::audio) return;
  if (frame.flags.is_metadata) return;
  const std::uint32_t track = track_of(frame);
  if (frame.flags.is_sequence_header) {
    std::vector<std::uint8_t> config = frame.payload.to_vector();
    config.erase(config.begin(), config.begin() + std::min<std::size_t>(frame.codec_data_offset, config.size()));
    if (config.empty()) return;
    if (!file_) open_file();
    auto record = writer_->describe(track, mp4::Track{frame.codec, config});
    if (!record && record.error().code() == Errc::exists) {
      // A new configuration (another resolution, another codec): a new file takes it, described
      // as it opens.
      tracks_[track] = mp4::Track{frame.codec, config};
      close_file("the codec configuration changed");
      open_file();
      record = std::vector<std::uint8_t>();
    }
    if (!record) {
      logger_.warn("recording {}: {} track not recorded: {}", key_.to_string(), media_kind_name(frame.kind),
                   record.error().message());
      return;
    }
    tracks_[track] = mp4::Track{frame.codec, std::move(config)};
    if (!record->empty()) batch_.push_back(DiskFile::Item{std::move(*record), {}});
    return;
  }
  if (!file_ || !writer_->has_track(track)) return;  // nothing to decode it with yet
  // A publisher back within the grace period (no event tells its players) or after it starts its
  // clock anew: a jump back of more than a second goes on from the last frame written instead.
  if (rebase_ || (last_dts_ms_ >= 0 && frame.dts_ms + offset_ms_ < last_dts_ms_ - kJumpBackMs)) {
    offset_ms_ = last_dts_ms_ >= 0 ? last_dts_ms_ + 1 - frame.dts_ms : 0;
    rebase_ = false;
  }
  const std::int64_t dts = frame.dts_ms + offset_ms_;
  if (segment_due(frame, dts)) {
    close_file("the segment is complete");
    open_file();
  }
  if (frame.kind == MediaKind::video && !have_video_key_) {
    if (!frame.flags.is_key_frame) return;
    have_video_key_ = true;
  }
  if (file_start_dts_ < 0) file_start_dts_ = dts;
  std::vector<PageSlice> slices = codec_data(frame);
  std::vector<std::span<const std::uint8_t>> parts;
  parts.reserve(slices.size());
  for (const PageSlice& s : slices) parts.emplace_back(s.data(), s.length);
  auto record = writer_->sample(track, dts, frame.composition_ms, frame.kind == MediaKind::audio || frame.flags.is_key_frame,
                                parts);
  if (!record) {
    // A frame out of decode order or empty: skipped, the recording goes on.
    logger_.debug("recording {}: frame skipped: {}", key_.to_string(), record.error().message());
    return;
  }
  last_dts_ms_ = std::max(last_dts_ms_, dts);
  group_.stats().add(counters_.frames);
  batch_.push_back(DiskFile::Item{std::vector<std::uint8_t>(record->begin(), record->end()), std::move(slices)});
}

void Recorder::on_stream_event(StreamEvent event) noexcept {
  if (event == StreamEvent::published) {
    rebase_ = last_dts_ms_ >= 0;
    have_video_key_ = false;
    return;
  }
  stop("the stream was unpublished");
}

void Recorder::close_file(std::string_view why) {
  if (!file_) return;
  submit();  // the file's last frames before its end
  std::shared_ptr<DiskFile> file = std::move(file_);
  std::unique_ptr<mp4::RecordingWriter> writer = std::move(writer_);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(group_.now() - started_at_).count();
  auto moov = writer->finish();
  if (!moov) {
    // No frame reached it: the file (its start only) goes.
    logger_.info("recording {} to {} ended ({}): nothing recorded", key_.to_string(), file->path(), why);
    if (file->finish({}, {})) schedule(group_, file, {});
    return;
  }
  group_.stats().add(counters_.finished);
  logger_.info("recording {} to {} ended ({}): {} frames in {} ms", key_.to_string(), file->path(), why,
               writer->samples().size(), elapsed);
  if (file->finish(std::move(*moov), mp4::mdat_size_patch(writer->size()), on_file_done_)) schedule(group_, file, {});
}

void Recorder::submit() {
  if (batch_.empty() || !file_) return;
  if (file_->append(std::move(batch_))) schedule(group_, file_, weak_from_this());
  batch_.clear();
}

void Recorder::stop(std::string_view why) {
  if (done_) return;
  done_ = true;
  close_file(why);
  // Leaving from inside a delivery is not allowed: the group drops the recorder later.
}

void Recorder::schedule(PollGroup& group, std::shared_ptr<DiskFile> file, std::weak_ptr<Recorder> recorder) {
  group.run_blocking([file] { return file->drain(); },
                     [&group, file, recorder](Status status) {
                       if (!status) {
                         if (auto self = recorder.lock()) self->on_disk_error(status);
                         return;
                       }
                       if (file->more_to_drain()) return schedule(group, file, recorder);
                       if (auto then = file->take_finished_callback()) then();
                     });
}

void Recorder::on_disk_error(const Status& status) {
  if (done_) return;
  group_.stats().add(counters_.failed);
  done_ = true;
  logger_.error("recording {} stopped: {}", key_.to_string(), status.message());
  file_.reset();  // the file stays as far as it was written (repaired at the next start)
  writer_.reset();
  batch_.clear();
}

}  // namespace weir::file
