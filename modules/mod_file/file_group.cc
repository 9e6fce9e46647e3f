// SPDX-License-Identifier: Apache-2.0
#include "file_group.h"

namespace weir::file {

FileGroup::FileGroup(PollGroup& group, const FileConfig* config, const FileCounters* counters, Logger logger)
    : group_(group), config_(*config), counters_(*counters), logger_(std::move(logger)) {
  sweep();
}

FileGroup::~FileGroup() {
  sweep_timer_.reset();
  recorders_.clear();  // each finishes its file
}

void FileGroup::start(const StreamKey& key) {
  auto& slot = recorders_[key.to_string()];
  if (slot && !slot->is_done()) return;
  slot = std::make_shared<Recorder>(group_, config_, counters_, logger_, key);
  if (Status s = slot->start(); !s) {
    logger_.warn("recording {} not started: {}", key.to_string(), s.message());
    recorders_.erase(key.to_string());
  }
}

void FileGroup::sweep() {
  // A recorder that ended inside a delivery leaves here, outside one.
  std::erase_if(recorders_, [](const auto& entry) { return entry.second->is_done(); });
  sweep_timer_ = group_.after(std::chrono::milliseconds(1000), [this] { sweep(); });
}

}  // namespace weir::file
