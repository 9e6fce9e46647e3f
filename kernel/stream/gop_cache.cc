// SPDX-License-Identifier: Apache-2.0
#include "stream/gop_cache.h"

namespace weir::kernel {

void GopCache::add(const MediaFrame& frame) {
  if (frame.flags.is_sequence_header) {
    (frame.kind == MediaKind::video ? video_header_ : audio_header_) = frame;
    return;
  }
  if (frame.flags.is_metadata) {
    metadata_ = frame;
    return;
  }
  if (frame.kind == MediaKind::video) {
    has_video_ = true;
    if (frame.flags.is_key_frame) {
      gop_.clear();
      in_gop_ = true;
    }
  }
  // Audio-only streams: headers are enough, a player starts with the next frame.
  if (!has_video_ || !in_gop_) return;
  if (gop_.size() >= kMaxFrames) {
    gop_.clear();
    in_gop_ = false;  // wait for the next key frame
    return;
  }
  gop_.push_back(frame);
}

void GopCache::clear() {
  video_header_.reset();
  audio_header_.reset();
  metadata_.reset();
  gop_.clear();
  has_video_ = false;
  in_gop_ = false;
}

std::vector<MediaFrame> GopCache::snapshot() const {
  std::vector<MediaFrame> frames;
  frames.reserve(gop_.size() + 3);
  if (video_header_) frames.push_back(*video_header_);
  if (audio_header_) frames.push_back(*audio_header_);
  if (metadata_) frames.push_back(*metadata_);
  frames.insert(frames.end(), gop_.begin(), gop_.end());
  return frames;
}

}  // namespace weir::kernel
