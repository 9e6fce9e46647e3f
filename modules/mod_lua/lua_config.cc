// SPDX-License-Identifier: Apache-2.0
#include "lua_config.h"

namespace weir::lua {
namespace {

constexpr std::string_view kAppPrefix = "app.";
constexpr std::string_view kEnvPrefix = "env.";

Result<AppHook> hook_by_name(std::string_view name) {
  for (std::size_t h = 0; h < kAppHookCount; ++h)
    if (app_hook_name(static_cast<AppHook>(h)) == name) return static_cast<AppHook>(h);
  return Status(Errc::config, format("unknown hook '{}' (connect, publish, play, call, stream_not_found, update)", name));
}

}  // namespace

Result<LuaConfig> LuaConfig::parse(const ConfigView& view) {
  LuaConfig c;
  auto dir = view.get_string("scripts", c.script_dir);
  if (!dir) return dir.error();
  c.script_dir = *dir;
  while (c.script_dir.size() > 1 && c.script_dir.back() == '/') c.script_dir.pop_back();
  for (const std::string& key : view.keys()) {
    if (key.compare(0, kEnvPrefix.size(), kEnvPrefix) == 0) {
      std::string name = key.substr(kEnvPrefix.size());
      if (name.empty()) return view.invalid(key, "expected env.<name>");
      auto value = view.get_string(key, "");
      if (!value) return value.error();
      c.env.emplace_back(name, *value);
      continue;
    }
    if (key.compare(0, kAppPrefix.size(), kAppPrefix) != 0) continue;
    std::string app = key.substr(kAppPrefix.size());
    if (app.empty() || app.find('/') != std::string::npos)
      return view.invalid(key, "expected app.<name> with a name without '/'");
    auto file = view.get_string(key, "");
    if (!file) return file.error();
    if (file->empty()) return view.invalid(key, "names no script");
    std::string path = file->front() == '/' ? *file : c.script_dir + "/" + *file;
    c.apps.push_back(AppScript{app, *file, path});
  }
  auto limit = view.get_int("instruction_limit", static_cast<std::int64_t>(c.instruction_limit), 10'000,
                            std::int64_t{1} << 40);
  if (!limit) return limit.error();
  c.instruction_limit = static_cast<std::uint64_t>(*limit);
  auto memory = view.get_bytes("memory_limit", c.memory_limit_bytes);
  if (!memory) return memory.error();
  if (*memory < (1u << 20)) return view.invalid("memory_limit", "must be at least 1m");
  c.memory_limit_bytes = *memory;
  auto timeout = view.get_duration("hook_timeout", c.hook_timeout);
  if (!timeout) return timeout.error();
  if (timeout->count() < 1) return view.invalid("hook_timeout", "must be at least 1ms");
  c.hook_timeout = *timeout;
  auto update = view.get_duration("update_interval", c.update_interval);
  if (!update) return update.error();
  if (update->count() < 100) return view.invalid("update_interval", "must be at least 100ms");
  c.update_interval = *update;
  auto no_readers = view.get_duration("no_readers_delay", c.no_readers_delay);
  if (!no_readers) return no_readers.error();
  if (no_readers->count() < 0) return view.invalid("no_readers_delay", "must not be negative");
  c.no_readers_delay = *no_readers;
  auto retries = view.get_int("hook_retries", c.hook_retries, 0, 10);
  if (!retries) return retries.error();
  c.hook_retries = static_cast<int>(*retries);
  // Closed by default for everything that admits a client or a stream: a broken auth script must
  // not open the server. Notifications have no verdict to fail.
  if (view.has("fail_open")) {
    auto open = view.get_list("fail_open");
    if (!open) return open.error();
    for (const std::string& name : *open) {
      auto hook = hook_by_name(name);
      if (!hook) return view.invalid("fail_open", hook.error().message());
      c.fail_open[static_cast<std::size_t>(*hook)] = true;
    }
  }
  auto prefix = view.get_string("http_prefix", c.http_prefix);
  if (!prefix) return prefix.error();
  if (!prefix->empty() && (prefix->front() != '/' || prefix->back() != '/' || prefix->size() < 2))
    return view.invalid("http_prefix", "expected a path that starts and ends with '/' (\"/apps/\"), or nothing");
  c.http_prefix = *prefix;
  auto ca_file = view.get_string("http_ca_file", c.http_ca_file);
  if (!ca_file) return ca_file.error();
  c.http_ca_file = *ca_file;
  if (view.has("libraries")) {
    auto libraries = view.get_list("libraries");
    if (!libraries) return libraries.error();
    for (const std::string& name : *libraries) {
      if (name == "io") c.allow_io = true;
      else if (name == "os") c.allow_os = true;
      else return view.invalid("libraries", "unknown library '" + name + "' (io, os)");
    }
  }
  return c;
}

}  // namespace weir::lua
