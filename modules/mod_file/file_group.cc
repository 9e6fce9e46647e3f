// SPDX-License-Identifier: Apache-2.0
#include "file_group.h"

#include "retention.h"

namespace weir::file {

FileGroup::FileGroup(PollGroup& group, const FileConfig* config, const FileCounters* counters, Logger logger)
    : group_(group), config_(*config), counters_(*counters), logger_(std::move(logger)) {
  sweep();
  if (group_.id() == 0 && (config_.retention_age.count() > 0 || config_.retention_size > 0)) check_retention();
}

FileGroup::~FileGroup() {
  *self_ = nullptr;
  sweep_timer_.reset();
  retention_timer_.reset();
  recorders_.clear();  // each finishes its file
}

void FileGroup::start(const StreamKey& key) {
  auto& slot = recorders_[key.to_string()];
  if (slot && !slot->is_done()) return;
  slot = std::make_shared<Recorder>(group_, config_, counters_, logger_, key, [weak = std::weak_ptr<FileGroup*>(self_)] {
    if (auto self = weak.lock(); self && *self) (*self)->check_retention();
  });
  if (Status s = slot->start(); !s) {
    logger_.warn("recording {} not started: {}", key.to_string(), s.message());
    recorders_.erase(key.to_string());
  }
}

void FileGroup::check_retention() {
  if (config_.retention_age.count() == 0 && config_.retention_size == 0) return;
  group_.run_blocking([config = &config_, logger = logger_] {
    enforce_retention(*config, logger);
    return ok();
  }, [](Status) {});
  if (group_.id() == 0) retention_timer_ = group_.after(std::chrono::minutes(1), [this] { check_retention(); });
}

void FileGroup::sweep() {
  // A recorder that ended inside a delivery leaves here, outside one.
  std::erase_if(recorders_, [](const auto& entry) { return entry.second->is_done(); });
  sweep_timer_ = group_.after(std::chrono::milliseconds(1000), [this] { sweep(); });
}

}  // namespace weir::file
