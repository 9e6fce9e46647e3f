// SPDX-License-Identifier: Apache-2.0
#pragma once
// LuaConfig: the [lua] section. Built once at registration, read-only afterwards (every group
// reads the same instance).

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "weir/services/apps.h"
#include "weir/config.h"
#include "weir/status.h"

namespace weir::lua {

struct AppScript {
  std::string app;   // "live"
  std::string name;  // as configured, for messages: "token_auth.lua"
  std::string path;  // the file to load: scripts directory + name
};

struct LuaConfig {
  std::string script_dir = "scripts";
  std::vector<AppScript> apps;
  /// Instructions one hook run may execute (counted in steps of LuaGroup::kHookStep).
  std::uint64_t instruction_limit = 10'000'000;
  std::chrono::milliseconds hook_timeout{5000};
  /// Memory of one group's VM (every app's script on that group) while scripts run.
  std::uint64_t memory_limit_bytes = 64u << 20;
  /// on_update of each connected client, this often.
  std::chrono::milliseconds update_interval{10000};
  /// on_no_readers once a stream has had no players this long (0: when the last one leaves).
  std::chrono::milliseconds no_readers_delay{0};
  /// Further attempts of a hook that timed out.
  int hook_retries = 0;
  /// Per AppHook: accept (true) or reject (false) when the script fails or times out.
  std::array<bool, kAppHookCount> fail_open{};
  /// [lua] env.<name> = value: strings for scripts as weir.env.<name> (secrets, URLs, limits).
  std::vector<std::pair<std::string, std::string>> env;
  /// HTTP requests under <prefix><app>/ go to the app's on_http_request (with mod_http); empty: off.
  std::string http_prefix = "/apps/";
  /// weir.http https://: a PEM file of CA certificates trusted besides the system's; empty: the
  /// system's only. Server certificates are always verified (chain and host name).
  std::string http_ca_file;
  bool allow_io = false;  // the io library
  bool allow_os = false;  // all of os (otherwise only time, clock, date, difftime)

  const AppScript* find(std::string_view app) const noexcept {
    for (const AppScript& a : apps)
      if (a.app == app) return &a;
    return nullptr;
  }
  static Result<LuaConfig> parse(const ConfigView& view);
};

}  // namespace weir::lua
