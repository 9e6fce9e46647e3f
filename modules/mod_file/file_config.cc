// SPDX-License-Identifier: Apache-2.0
#include "file_config.h"

#include <algorithm>
#include <ctime>

namespace weir::file {
namespace {

std::string safe_part(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '/' || c == '\\' || c == '\0') c = '_';
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool FileConfig::should_record(const StreamKey& key) const {
  for (const std::string& pattern : record) {
    const std::size_t slash = pattern.find('/');
    if (slash == std::string::npos) {
      if (glob_match(pattern, key.app)) return true;
    } else if (glob_match(std::string_view(pattern).substr(0, slash), key.app) &&
               glob_match(std::string_view(pattern).substr(slash + 1), key.name)) {
      return true;
    }
  }
  return false;
}

std::string FileConfig::file_for(const StreamKey& key, std::time_t start) const {
  std::string out;
  std::string_view rest = record_file;
  while (!rest.empty()) {
    const std::size_t open = rest.find('{');
    out.append(rest.substr(0, open));
    if (open == std::string_view::npos) break;
    const std::size_t close = rest.find('}', open);
    const std::string_view field = rest.substr(open + 1, close - open - 1);
    rest = rest.substr(close + 1);
    if (field == "app") {
      out += safe_part(key.app);
    } else if (field == "name") {
      out += safe_part(key.name);
    } else if (field.starts_with("start")) {
      const std::string format = field.size() > 6 ? std::string(field.substr(6)) : "%Y%m%d-%H%M%S";
      std::tm local{};
      ::localtime_r(&start, &local);
      char buffer[256];
      const std::size_t n = std::strftime(buffer, sizeof buffer, format.c_str(), &local);
      out.append(buffer, n);
    }
  }
  return out;
}

Result<FileConfig> FileConfig::parse(const ConfigView& view) {
  FileConfig c;
  auto record = view.get_list("record");
  if (!record) return record.error();
  for (const std::string& pattern : *record) {
    if (pattern.empty() || std::count(pattern.begin(), pattern.end(), '/') > 1)
      return view.invalid("record", "expected a list of APP or APP/NAME patterns, got '" + pattern + "'");
    c.record.push_back(pattern);
  }
  auto dir = view.get_string("record_dir", c.record_dir);
  if (!dir) return dir.error();
  if (dir->empty()) return view.invalid("record_dir", "must name a directory");
  c.record_dir = *dir;
  auto file = view.get_string("record_file", c.record_file);
  if (!file) return file.error();
  c.record_file = *file;
  // Every field known and closed, a name left once filled in, nothing climbing out of record_dir.
  for (std::size_t at = c.record_file.find('{'); at != std::string::npos; at = c.record_file.find('{', at + 1)) {
    const std::size_t close = c.record_file.find('}', at);
    if (close == std::string::npos) return view.invalid("record_file", "a '{' without its '}'");
    const std::string field = c.record_file.substr(at + 1, close - at - 1);
    if (field != "app" && field != "name" && field != "start" && !field.starts_with("start:"))
      return view.invalid("record_file", "unknown field {" + field + "} (app, name, start, start:FORMAT)");
  }
  if (c.record_file.empty() || c.record_file[0] == '/' || c.record_file.find("..") != std::string::npos)
    return view.invalid("record_file", "must be a relative path inside record_dir, without '..'");
  if (!c.record_file.ends_with(".mp4"))
    return view.invalid("record_file", "recordings are MP4 files: the name ends in .mp4 (FLV recording is not there yet)");
  auto format = view.get_string("record_format", "mp4");
  if (!format) return format.error();
  if (*format != "mp4") return view.invalid("record_format", "only mp4 is written (FLV is not there yet), got '" + *format + "'");
  auto flush = view.get_duration("flush_interval", c.flush_interval);
  if (!flush) return flush.error();
  if (flush->count() < 10) return view.invalid("flush_interval", "must be at least 10ms");
  c.flush_interval = *flush;
  auto queue = view.get_bytes("record_queue", c.record_queue);
  if (!queue) return queue.error();
  if (*queue < (64u << 10)) return view.invalid("record_queue", "must be at least 64k");
  c.record_queue = *queue;
  auto repair = view.get_bool("repair_on_start", c.repair_on_start);
  if (!repair) return repair.error();
  c.repair_on_start = *repair;
  auto segment = view.get_duration("segment_duration", c.segment_duration);
  if (!segment) return segment.error();
  if (segment->count() != 0 && segment->count() < 1000) return view.invalid("segment_duration", "0 (off) or at least 1s");
  c.segment_duration = *segment;
  auto segment_size = view.get_bytes("segment_size", c.segment_size);
  if (!segment_size) return segment_size.error();
  if (*segment_size != 0 && *segment_size < (1u << 20)) return view.invalid("segment_size", "0 (off) or at least 1m");
  c.segment_size = *segment_size;
  auto age = view.get_duration("retention_age", c.retention_age);
  if (!age) return age.error();
  if (age->count() != 0 && age->count() < 1000) return view.invalid("retention_age", "0 (keep) or at least 1s");
  c.retention_age = *age;
  auto size = view.get_bytes("retention_size", c.retention_size);
  if (!size) return size.error();
  c.retention_size = *size;
  auto prefix = view.get_string("http_prefix", c.http_prefix);
  if (!prefix) return prefix.error();
  if (!prefix->empty() && (prefix->front() != '/' || prefix->back() != '/' || prefix->size() < 3))
    return view.invalid("http_prefix", "a path that starts and ends with '/' (\"/recordings/\"), or empty for none");
  c.http_prefix = *prefix;
  return c;
}

}  // namespace weir::file
