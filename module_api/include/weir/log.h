// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Logging: one named Logger per component, one line per event, context as key=value
/// ("conn=17 stream=live/cam1"). Nothing is logged per frame at the default level.

#include <atomic>
#include <string>
#include <string_view>

#include "weir/text.h"

namespace weir {

enum class LogLevel : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

/// Where log lines go; the kernel's implementation writes whole lines to stderr or a file.
/// Any thread.
class LogSink {
 public:
  virtual void write(LogLevel level, std::string_view tag, std::string_view line) noexcept = 0;
  /// The current threshold (changed by SIGHUP reload); read relaxed on every log call.
  LogLevel level() const noexcept { return level_.load(std::memory_order_relaxed); }
  void set_level(LogLevel level) noexcept { level_.store(level, std::memory_order_relaxed); }

 protected:
  ~LogSink() = default;

 private:
  std::atomic<LogLevel> level_{LogLevel::info};
};

/// A named logger ("rtmp", "kernel.sender"). Cheap to copy; any thread.
class Logger {
 public:
  Logger() = default;
  Logger(LogSink* sink, std::string tag) : sink_(sink), tag_(std::move(tag)) {}

  bool enabled(LogLevel level) const noexcept { return sink_ && level >= sink_->level(); }
  const std::string& tag() const noexcept { return tag_; }

  template <class... Args>
  void log(LogLevel level, std::string_view text, const Args&... args) const {
    if (!enabled(level)) return;
    sink_->write(level, tag_, format(text, args...));
  }
  template <class... Args>
  void trace(std::string_view text, const Args&... args) const { log(LogLevel::trace, text, args...); }
  template <class... Args>
  void debug(std::string_view text, const Args&... args) const { log(LogLevel::debug, text, args...); }
  template <class... Args>
  void info(std::string_view text, const Args&... args) const { log(LogLevel::info, text, args...); }
  template <class... Args>
  void warn(std::string_view text, const Args&... args) const { log(LogLevel::warn, text, args...); }
  template <class... Args>
  void error(std::string_view text, const Args&... args) const { log(LogLevel::error, text, args...); }

 private:
  LogSink* sink_ = nullptr;
  std::string tag_;
};

}  // namespace weir
