// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

namespace weir::kernel {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Comments: whole lines starting with ';' or '#', and " ;" or " #" after a value. Property_tree's
// INI reader knows only whole-line ';' comments, so the text is normalised first; line numbers
// stay as they were.
std::string normalise(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view view = trim(line);
    if (!view.empty() && view.front() == '#') {
      out << ";\n";
      continue;
    }
    for (std::size_t i = 1; i < line.size(); ++i) {
      if ((line[i] == ';' || line[i] == '#') && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line.resize(i);
        break;
      }
    }
    out << line << '\n';
  }
  return out.str();
}

// Where each [section] and key stands: property_tree keeps no line numbers for values.
struct Lines {
  std::map<std::string, int> sections;
  std::map<std::pair<std::string, std::string>, int> keys;
};

Lines scan_lines(const std::string& text) {
  Lines lines;
  std::istringstream in(text);
  std::string line, section;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view view = trim(line);
    if (view.empty() || view.front() == ';') continue;
    if (view.front() == '[' && view.back() == ']') {
      section = std::string(trim(view.substr(1, view.size() - 2)));
      lines.sections.emplace(section, number);
      continue;
    }
    auto eq = view.find('=');
    if (eq != std::string_view::npos)
      lines.keys.emplace(std::pair{section, std::string(trim(view.substr(0, eq)))}, number);
  }
  return lines;
}

Result<std::uint64_t> parse_bytes(std::string_view text) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return error(Errc::config, "expected a size such as 64k or 2m");
  std::string_view unit = trim(std::string_view(end, text.data() + text.size() - end));
  std::uint64_t scale = 1;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "K" || unit == "kb" || unit == "KiB") scale = 1024;
  else if (unit == "m" || unit == "M" || unit == "mb" || unit == "MiB") scale = 1024 * 1024;
  else if (unit == "g" || unit == "G" || unit == "gb" || unit == "GiB") scale = 1024ull * 1024 * 1024;
  else return error(Errc::config, "unknown size unit '{}' (k, m, g)", unit);
  if (number > UINT64_MAX / scale) return error(Errc::config, "size too large");
  return number * scale;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 0)
    return error(Errc::config, "expected a duration such as 200ms or 5s");
  std::string_view unit = trim(std::string_view(end, text.data() + text.size() - end));
  double scale = 1;
  if (unit.empty() || unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m" || unit == "min") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return error(Errc::config, "unknown duration unit '{}' (ms, s, m, h)", unit);
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

}  // namespace

const ConfigEntry* ConfigSection::find(std::string_view key) const {
  for (const ConfigEntry& entry : entries)
    if (entry.key == key) return &entry;
  return nullptr;
}

// A section seen through the ConfigView API; records which keys were read.
class ConfigSectionView final : public ConfigView {
 public:
  ConfigSectionView(std::string name, const ConfigSection* section, std::string file)
      : name_(std::move(name)), section_(section), file_(std::move(file)) {}

  std::string_view section() const noexcept override { return name_; }
  bool has(std::string_view key) const noexcept override {
    return section_ && section_->find(key) != nullptr;
  }
  std::string where(std::string_view key) const override {
    if (const ConfigEntry* entry = lookup(key)) return entry->where;
    if (section_) return section_->where;
    return file_.empty() ? std::string("(defaults)") : file_;
  }
  Status invalid(std::string_view key, std::string_view why) const override {
    return error(Errc::config, "{}: [{}] {}: {}", where(key), name_, key, why);
  }

  Result<std::string> get_string(std::string_view key, std::string_view fallback) const override {
    const ConfigEntry* entry = lookup(key);
    return entry ? entry->value : std::string(fallback);
  }
  Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) const override {
    const ConfigEntry* entry = lookup(key);
    if (!entry) return fallback;
    std::int64_t value = 0;
    const std::string& text = entry->value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      return invalid(key, format("expected an integer, got '{}'", text));
    if (value < min || value > max)
      return invalid(key, format("{} is out of range [{}, {}]", value, min, max));
    return value;
  }
  Result<bool> get_bool(std::string_view key, bool fallback) const override {
    const ConfigEntry* entry = lookup(key);
    if (!entry) return fallback;
    const std::string& v = entry->value;
    if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
    if (v == "false" || v == "no" || v == "off" || v == "0") return false;
    return invalid(key, format("expected true or false, got '{}'", v));
  }
  Result<std::uint64_t> get_bytes(std::string_view key, std::uint64_t fallback) const override {
    const ConfigEntry* entry = lookup(key);
    if (!entry) return fallback;
    auto bytes = parse_bytes(entry->value);
    if (!bytes) return invalid(key, format("{}, got '{}'", bytes.error().message(), entry->value));
    return *bytes;
  }
  Result<std::chrono::milliseconds> get_duration(std::string_view key,
                                                 std::chrono::milliseconds fallback) const override {
    const ConfigEntry* entry = lookup(key);
    if (!entry) return fallback;
    auto duration = parse_duration(entry->value);
    if (!duration) return invalid(key, format("{}, got '{}'", duration.error().message(), entry->value));
    return *duration;
  }
  Result<std::vector<std::string>> get_list(std::string_view key) const override {
    std::vector<std::string> items;
    const ConfigEntry* entry = lookup(key);
    if (!entry) return items;
    std::string item;
    for (char c : entry->value + ",") {
      if (c == ',' || c == ' ' || c == '\t') {
        if (!item.empty()) items.push_back(std::move(item));
        item.clear();
      } else {
        item.push_back(c);
      }
    }
    return items;
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    if (section_)
      for (const ConfigEntry& entry : section_->entries) out.push_back(entry.key);
    return out;
  }

  std::vector<Status> unread() const {
    std::vector<Status> errors;
    if (!section_) return errors;
    for (const ConfigEntry& entry : section_->entries)
      if (!read_.count(entry.key))
        errors.push_back(error(Errc::config, "{}: [{}] {}: unknown key", entry.where, name_, entry.key));
    return errors;
  }

 private:
  const ConfigEntry* lookup(std::string_view key) const {
    read_.emplace(key);
    return section_ ? section_->find(key) : nullptr;
  }

  std::string name_;
  const ConfigSection* section_;
  std::string file_;
  mutable std::set<std::string, std::less<>> read_;
};

Config::Config() = default;
Config::~Config() = default;

ConfigSection& Config::section(const std::string& name, const std::string& where) {
  for (ConfigSection& s : sections_)
    if (s.name == name) return s;
  sections_.push_back(ConfigSection{name, where, {}});
  return sections_.back();
}

Status Config::apply_override(const std::string& assignment) {
  auto eq = assignment.find('=');
  auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    return error(Errc::config, "--set {}: expected section.key=value", assignment);
  std::string name(trim(std::string_view(assignment).substr(0, dot)));
  std::string key(trim(std::string_view(assignment).substr(dot + 1, eq - dot - 1)));
  std::string value(trim(std::string_view(assignment).substr(eq + 1)));
  if (name.empty() || key.empty()) return error(Errc::config, "--set {}: expected section.key=value", assignment);
  std::string where = "--set " + name + "." + key;
  ConfigSection& s = section(name, where);
  for (ConfigEntry& entry : s.entries) {
    if (entry.key == key) {
      entry.value = value;
      entry.where = where;
      return ok();
    }
  }
  s.entries.push_back(ConfigEntry{key, value, where});
  return ok();
}

Result<std::shared_ptr<Config>> Config::parse(const std::string& text, const std::string& name,
                                              const std::vector<std::string>& overrides) {
  auto config = std::make_shared<Config>();
  config->path_ = name;
  boost::property_tree::ptree tree;
  try {
    std::istringstream in(normalise(text));
    boost::property_tree::ini_parser::read_ini(in, tree);
  } catch (const boost::property_tree::ini_parser_error& e) {
    return error(Errc::config, "{}:{}: {}", name, e.line(), e.message());
  }
  Lines lines = scan_lines(text);
  for (const auto& [section_name, section_tree] : tree) {
    if (section_tree.empty() && !section_tree.data().empty()) {
      return error(Errc::config, "{}: key '{}' outside any [section]", name, section_name);
    }
    auto line = lines.sections.find(section_name);
    std::string where = name + ":" + std::to_string(line == lines.sections.end() ? 0 : line->second);
    ConfigSection& s = config->section(section_name, where);
    for (const auto& [key, value] : section_tree) {
      auto key_line = lines.keys.find({section_name, key});
      s.entries.push_back(ConfigEntry{
          key, std::string(trim(value.data())),
          name + ":" + std::to_string(key_line == lines.keys.end() ? 0 : key_line->second)});
    }
  }
  for (const std::string& assignment : overrides) WEIR_TRY(config->apply_override(assignment));
  return config;
}

Result<std::shared_ptr<Config>> Config::load(const std::string& path,
                                             const std::vector<std::string>& overrides) {
  if (path.empty()) return parse("", "", overrides);
  std::ifstream in(path);
  if (!in) return error(Errc::config, "{}: cannot open config file", path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, overrides);
}

const ConfigView& Config::view(std::string_view name) const {
  std::lock_guard lock(views_mutex_);
  auto it = views_.find(name);
  if (it != views_.end()) return *it->second;
  const ConfigSection* found = nullptr;
  for (const ConfigSection& s : sections_)
    if (s.name == name) found = &s;
  auto view = std::make_unique<ConfigSectionView>(std::string(name), found, path_);
  return *views_.emplace(std::string(name), std::move(view)).first->second;
}

std::vector<Status> Config::unread_keys() const {
  std::lock_guard lock(views_mutex_);
  std::vector<Status> errors;
  for (const auto& [name, view] : views_)
    for (Status& s : view->unread()) errors.push_back(std::move(s));
  return errors;
}

std::vector<std::string> Config::unviewed_sections() const {
  std::lock_guard lock(views_mutex_);
  std::vector<std::string> names;
  for (const ConfigSection& s : sections_)
    if (!views_.count(s.name)) names.push_back(s.name);
  return names;
}

}  // namespace weir::kernel
