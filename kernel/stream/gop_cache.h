// SPDX-License-Identifier: Apache-2.0
#pragma once
// GopCache: what a late joiner needs to start at once: the latest sequence headers and metadata,
// then the frames since the last video key frame. Holds page references only (no copies).

#include <cstddef>
#include <optional>
#include <vector>

#include "weir/stream.h"

namespace weir::kernel {

class GopCache {
 public:
  /// Frames after a key frame beyond which the GOP is dropped (a stream with no key frames).
  static constexpr std::size_t kMaxFrames = 4096;

  void add(const MediaFrame& frame);
  void clear();
  /// Headers, metadata, then the GOP in decode order.
  std::vector<MediaFrame> snapshot() const;
  bool empty() const noexcept {
    return !video_header_ && !audio_header_ && !metadata_ && gop_.empty();
  }

 private:
  std::optional<MediaFrame> video_header_;
  std::optional<MediaFrame> audio_header_;
  std::optional<MediaFrame> metadata_;
  std::vector<MediaFrame> gop_;
  bool has_video_ = false;
  bool in_gop_ = false;
};

}  // namespace weir::kernel
