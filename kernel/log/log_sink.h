// SPDX-License-Identifier: Apache-2.0
#pragma once
// The kernel's log sink: one line per event, written with one write(2) so lines from several
// threads never interleave (no lock).

#include <string>
#include <string_view>

#include "weir/log.h"
#include "weir/status.h"

namespace weir::kernel {

class LogSinkImpl final : public LogSink {
 public:
  LogSinkImpl();
  ~LogSinkImpl();
  /// Writes to `path` (appending), or to stderr when empty. Main thread, before threads start
  /// or during reload.
  Status open(const std::string& path);
  void write(LogLevel level, std::string_view tag, std::string_view line) noexcept override;

 private:
  int fd_ = 2;
};

/// "trace", "debug", "info", "warn", "error", "off".
Result<LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level) noexcept;

}  // namespace weir::kernel
