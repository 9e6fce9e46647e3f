// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// ConfigView: one section of the configuration, with typed getters whose errors name the file,
/// the line and the key ("etc/weir.conf:12: [rtmp] chunk_size: expected an integer, got 'big'").
/// A key that no module reads is an error at startup, so a misspelt key never passes silently.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir {

/// A read-only view of one config section. Thread: the main thread during registration; a
/// module copies what it needs into its own (immutable) config struct.
class ConfigView {
 public:
  /// The section name, e.g. "rtmp".
  virtual std::string_view section() const noexcept = 0;
  virtual bool has(std::string_view key) const noexcept = 0;
  /// "file:line" of a key, or of the section when the key is absent.
  virtual std::string where(std::string_view key) const = 0;

  virtual Result<std::string> get_string(std::string_view key, std::string_view fallback) const = 0;
  /// An integer within [min, max].
  virtual Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) const = 0;
  /// true/false, yes/no, on/off, 1/0.
  virtual Result<bool> get_bool(std::string_view key, bool fallback) const = 0;
  /// A size with an optional k/m/g suffix (powers of 1024): "64k", "2m".
  virtual Result<std::uint64_t> get_bytes(std::string_view key, std::uint64_t fallback) const = 0;
  /// A duration with a unit: "200ms", "5s", "2m", "1h"; a bare number is milliseconds.
  virtual Result<std::chrono::milliseconds> get_duration(std::string_view key,
                                                         std::chrono::milliseconds fallback) const = 0;
  /// A list separated by commas or spaces: "mod_rtmp, mod_stats".
  virtual Result<std::vector<std::string>> get_list(std::string_view key) const = 0;
  /// The keys present in this section, in file order.
  virtual std::vector<std::string> keys() const = 0;
  /// An error naming this key's place: for checks a module makes itself.
  virtual Status invalid(std::string_view key, std::string_view why) const = 0;

 protected:
  ~ConfigView() = default;
};

}  // namespace weir
