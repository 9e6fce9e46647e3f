// SPDX-License-Identifier: Apache-2.0
// modules/mod_file/module.cc: the one place mod_file meets the kernel.
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "disk_file.h"
#include "download.h"
#include "file_config.h"
#include "file_group.h"
#include "weir/module.h"
#include "weir/per_group.h"

namespace weir::file {
namespace {

// Module-level state: built once at registration, read-only afterwards (FileGroups are per group).
FileConfig g_config;
FileCounters g_counters;
PerGroup<FileGroup> g_groups;

// The recordings a crash left unfinished (no mdat size) in record_dir, older than this process.
void repair_unfinished(const Logger& logger, std::filesystem::file_time_type started) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(g_config.record_dir, ec)) return;
  std::size_t repaired = 0;
  for (auto it = fs::recursive_directory_iterator(g_config.record_dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".mp4") continue;
    if (it->last_write_time(ec) >= started) continue;  // being written by this process
    const std::string path = it->path().string();
    std::int64_t kept_ms = 0;
    Status s = repair_recording(path, kept_ms);
    if (s) {
      ++repaired;
      logger.warn("repaired {}: an unfinished recording, {} ms of it kept", path, kept_ms);
    } else if (s.code() == Errc::not_found) {
      logger.warn("removed {}: an unfinished recording without a whole frame", path);
      fs::remove(it->path(), ec);
      ec.clear();
    } else if (s.code() != Errc::exists && s.code() != Errc::malformed) {
      logger.error("repair {}: {}", path, s.message());
    }
  }
  if (repaired) logger.info("repaired {} unfinished recording(s) in {}", repaired, g_config.record_dir);
}

Status register_module(Registrar& registrar) {
  auto config = FileConfig::parse(registrar.config());
  if (!config) return config.error();
  g_config = std::move(*config);
  auto& c = g_counters;
  c.started = registrar.counter("weir_file_recordings_started_total", "Recordings started");
  c.finished = registrar.counter("weir_file_recordings_finished_total", "Recordings finished with their moov");
  c.failed = registrar.counter("weir_file_recordings_failed_total", "Recordings stopped by a disk error or a disk that fell behind");
  c.frames = registrar.counter("weir_file_frames_recorded_total", "Frames queued to recordings");
  Logger logger = registrar.logger("file");
  if (!g_config.http_prefix.empty()) {
    auto http = registrar.optional_service<HttpService>();
    if (!http) return http.error();
    if (*http) {
      if (Status s = route_downloads(**http, g_config, logger); !s) return s;
    } else {
      logger.info("[file] http_prefix {}: no HTTP service (list mod_http before mod_file): downloads are off",
                  g_config.http_prefix);
    }
  }
  g_groups.install(registrar, &g_config, &g_counters, logger);
  registrar.gauge("weir_file_recordings_active", "Recordings being written",
                  [](PollGroup& group) { return g_groups.has(group) ? static_cast<double>(g_groups.local(group).active()) : 0.0; });
  if (!g_config.record.empty()) {
    registrar.on_stream_published([](PollGroup& group, const StreamKey& key) {
      if (g_groups.has(group) && g_config.should_record(key)) g_groups.local(group).start(key);
    });
  }
  if (g_config.repair_on_start) {
    const auto started = std::filesystem::file_time_type::clock::now();
    registrar.on_group_start([logger, started](PollGroup& group) {
      if (group.id() != 0) return;
      group.run_blocking([logger, started] {
        repair_unfinished(logger, started);
        return ok();
      }, [](Status) {});
    });
  }
  return ok();
}

}  // namespace
}  // namespace weir::file

WEIR_MODULE("mod_file", "0.1.0", "file", weir::file::register_module)
