// SPDX-License-Identifier: Apache-2.0
#include "retention.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <vector>

#include "disk_file.h"

namespace weir::file {
namespace {

std::atomic<bool> g_running{false};

}  // namespace

std::size_t enforce_retention(const FileConfig& config, const Logger& logger) {
  namespace fs = std::filesystem;
  if (config.retention_age.count() == 0 && config.retention_size == 0) return 0;
  if (g_running.exchange(true)) return 0;
  struct Entry {
    fs::path path;
    fs::file_time_type written;
    std::uint64_t size;
    bool finished;
  };
  std::vector<Entry> files;
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(config.record_dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e;
    if (!it->is_regular_file(e) || it->path().extension() != ".mp4") continue;
    Entry entry{it->path(), it->last_write_time(e), it->file_size(e), false};
    if (e) continue;
    entry.finished = is_finished_file(entry.path.string());
    total += entry.size;
    files.push_back(std::move(entry));
  }
  std::sort(files.begin(), files.end(), [](const Entry& a, const Entry& b) { return a.written < b.written; });
  const auto now = fs::file_time_type::clock::now();
  std::size_t deleted = 0;
  for (const Entry& entry : files) {
    if (!entry.finished) continue;
    const bool too_old = config.retention_age.count() > 0 && now - entry.written > config.retention_age;
    const bool too_much = config.retention_size > 0 && total > config.retention_size;
    if (!too_old && !too_much) continue;
    std::error_code e;
    if (!fs::remove(entry.path, e)) {
      if (e) logger.warn("retention: cannot delete {}: {}", entry.path.string(), e.message());
      continue;
    }
    total -= entry.size;
    ++deleted;
    logger.info("retention: deleted {} ({} bytes; {})", entry.path.string(), entry.size,
                too_old ? "older than [file] retention_age" : "past [file] retention_size");
  }
  g_running.store(false);
  return deleted;
}

}  // namespace weir::file
