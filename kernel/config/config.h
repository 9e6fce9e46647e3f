// SPDX-License-Identifier: Apache-2.0
#pragma once
// The configuration: an INI file read with Boost.Property_tree, plus --set overrides. Every value
// remembers where it came from (file:line or "--set"), so errors name the place. Immutable once
// loaded; shared as shared_ptr<const Config>. Which keys were read is tracked per section, so
// keys nobody reads are reported as errors (a misspelt key must not pass silently).

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "weir/config.h"
#include "weir/status.h"

namespace weir::kernel {

struct ConfigEntry {
  std::string key;
  std::string value;
  std::string where;  ///< "etc/weir.conf:12" or "--set rtmp.chunk_size"
};

struct ConfigSection {
  std::string name;
  std::string where;
  std::vector<ConfigEntry> entries;  ///< file order
  const ConfigEntry* find(std::string_view key) const;
};

class ConfigSectionView;

class Config {
 public:
  /// Reads `path` (INI: [section] then key = value; ';' or '#' start comments) and applies the
  /// overrides ("section.key=value"). An empty path gives an empty config (all defaults).
  static Result<std::shared_ptr<Config>> load(const std::string& path,
                                              const std::vector<std::string>& overrides);
  /// Builds a config from text (tests).
  static Result<std::shared_ptr<Config>> parse(const std::string& text, const std::string& name,
                                               const std::vector<std::string>& overrides = {});

  const std::string& path() const noexcept { return path_; }
  const std::vector<ConfigSection>& sections() const noexcept { return sections_; }
  /// A view of `section` that records the keys read through it (an empty view when absent).
  const ConfigView& view(std::string_view section) const;
  /// Errors for each key present in a section that was viewed but never read.
  std::vector<Status> unread_keys() const;
  /// Sections that nobody viewed.
  std::vector<std::string> unviewed_sections() const;

  Config();
  ~Config();

 private:
  Status apply_override(const std::string& assignment);
  ConfigSection& section(const std::string& name, const std::string& where);

  std::string path_;
  std::vector<ConfigSection> sections_;
  // Views are created during registration and --check-config, both on the main thread; the mutex
  // only keeps a mistaken call from another thread from corrupting the map (never on a hot path).
  mutable std::mutex views_mutex_;
  mutable std::map<std::string, std::unique_ptr<ConfigSectionView>, std::less<>> views_;
};

}  // namespace weir::kernel
