// SPDX-License-Identifier: Apache-2.0
#pragma once
// FileGroup: mod_file's state on one poll group: the recordings of the streams published there.

#include <map>
#include <memory>
#include <string>

#include "file_config.h"
#include "recorder.h"
#include "weir/poll_group.h"

namespace weir::file {

class FileGroup {
 public:
  FileGroup(PollGroup& group, const FileConfig* config, const FileCounters* counters, Logger logger);
  ~FileGroup();

  /// `key` was published on this group and [file] record names it: record it, unless it is
  /// recorded already (a publisher back within the grace period goes on in the same file).
  void start(const StreamKey& key);
  std::size_t active() const noexcept { return recorders_.size(); }

 private:
  void sweep();
  /// Deletes what [file] retention_* says is too old or too much (on the worker pool).
  void check_retention();

  PollGroup& group_;
  const FileConfig& config_;
  const FileCounters& counters_;
  Logger logger_;
  std::map<std::string, std::shared_ptr<Recorder>> recorders_;  // by "app/name"
  std::unique_ptr<Timer> sweep_timer_;
  std::unique_ptr<Timer> retention_timer_;  // group 0: every minute
  // Held by the recorders' "file finished" callbacks, which may outlive this group's state.
  std::shared_ptr<FileGroup*> self_ = std::make_shared<FileGroup*>(this);
};

}  // namespace weir::file
