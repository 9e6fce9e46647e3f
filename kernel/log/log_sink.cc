// SPDX-License-Identifier: Apache-2.0
#include "log/log_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace weir::kernel {

LogSinkImpl::LogSinkImpl() = default;

LogSinkImpl::~LogSinkImpl() {
  if (fd_ > 2) ::close(fd_);
}

Status LogSinkImpl::open(const std::string& path) {
  if (path.empty()) return ok();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return error(Errc::io, "log file {}: {}", path, std::strerror(errno));
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  return ok();
}

void LogSinkImpl::write(LogLevel level, std::string_view tag, std::string_view line) noexcept {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t seconds = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[40];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis));
  std::string text;
  text.reserve(64 + tag.size() + line.size());
  text.append(stamp).append(" ");
  std::string_view name = log_level_name(level);
  text.append(name).append(6 - std::min<std::size_t>(name.size(), 5), ' ');
  text.append(tag).append(": ").append(line).push_back('\n');
  // One write per line: atomic for O_APPEND files and for pipes up to PIPE_BUF.
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<std::size_t>(w);
  }
}

Result<LogLevel> parse_log_level(std::string_view text) {
  static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (auto [name, level] : kLevels)
    if (text == name) return level;
  return error(Errc::config, "unknown log level '{}' (trace, debug, info, warn, error, off)", text);
}

std::string_view log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

}  // namespace weir::kernel
