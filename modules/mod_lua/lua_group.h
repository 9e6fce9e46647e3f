// SPDX-License-Identifier: Apache-2.0
#pragma once
// LuaGroup: mod_lua's state on one poll group: one Lua VM holding every app's script, each in its
// own sandboxed environment, and the hook runs in progress.
//
//   AppsService::request --> LuaGroup::request --> Run: a coroutine of the group's Vm
//        resume --> script --> weir.sleep / weir.http / module function: yield, wait (timer,
//        worker pool, message) --> resume ... --> return --> AppVerdict --> defer(done)
//   deadline timer: the run is abandoned (retried or failed open/closed)
//   instruction hook: a run past its budget is stopped (yield from the hook: pcall cannot catch it)
//
// A Vm is shared by the runs started on it: a SIGHUP reload swaps in a new Vm for new requests and
// the old one lives until its last run ends. Thread: the group's, for everything.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <Poco/Net/Context.h>

#include "lua_binding.h"
#include "lua_config.h"
#include "weir/services/apps.h"
#include "weir/log.h"
#include "weir/services/lua.h"
#include "weir/poll_group.h"

namespace weir::lua {

/// A module's function for scripts: weir.<library>.<name> (weir/services/lua.h).
struct ModuleFunction {
  std::string library;
  std::string name;
  LuaFunction fn;
};

/// Named counts every group's scripts share (weir.count): the one piece of state that crosses
/// groups, for server-wide limits. Any thread.
class SharedCounts {
 public:
  /// Adds `delta` to count `name` and returns the new count; when delta > 0 and the count would
  /// pass `limit`, changes nothing and returns nullopt. Counts never go below 0.
  std::optional<std::int64_t> add(const std::string& name, std::int64_t delta, std::int64_t limit);

 private:
  // A lock, not a message: a count must be checked and taken in one step across groups, and it is
  // taken only at control points (a play, a publish), never on the media path.
  std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> counts_;
};

/// What every group shares, immutable once the groups run (but for the counts).
struct LuaShared {
  LuaConfig config;
  Logger logger;
  std::vector<ModuleFunction> functions;
  mutable SharedCounts counts;
  /// TLS client settings of weir.http https:// (make_https_context, lua_http.h); null: made per
  /// request.
  /// Poco's Context is shared by the worker threads (its refcount and SSL_CTX are thread-safe).
  Poco::Net::Context::Ptr https_context;
};

/// A script's text, read on the main thread (never on a poll group: disk).
struct ScriptSource {
  AppScript script;
  std::string text;
};
using Sources = std::vector<ScriptSource>;

/// Reads every configured script. Main thread (registration, reload).
Result<std::shared_ptr<const Sources>> read_sources(const LuaConfig& config);

class Vm;
struct Run;

/// What a Run answers: a client's hook (AppHook), on_http_request (no client, the result is the
/// response) or on_server_start (no client, nothing answers).
enum class RunKind : std::uint8_t { client, http, server_start };

class LuaGroup {
 public:
  /// Instructions between two calls of the count hook: the granularity of the instruction limit.
  static constexpr int kHookStep = 1000;

  /// Loads every configured script; a script that fails is logged and its app rejects requests.
  LuaGroup(PollGroup& group, const LuaShared* shared, std::shared_ptr<const Sources> sources);
  ~LuaGroup();
  LuaGroup(const LuaGroup&) = delete;
  LuaGroup& operator=(const LuaGroup&) = delete;

  bool has_hook(std::string_view app, AppHook hook, std::string_view method) const noexcept;
  void request(std::shared_ptr<AppClient> client, AppRequest request, AppVerdictCallback done);
  /// Whether `app` defines on_http_request.
  bool has_http_hook(std::string_view app) const noexcept;
  /// Runs on_http_request(request) of `app`; the verdict's result is what the script returned
  /// (a failure is a reject with code "500").
  void request_http(std::string_view app, Value request, AppVerdictCallback done);
  /// Runs on_server_start(app) of every app that defines it, each as a hook (it may wait). Called
  /// once per process, on one group, after its poll loop started (never blocks the start).
  void server_start();
  /// Loads `sources` into a new Vm for the requests to come; when one fails, keeps the running Vm
  /// and says why. Runs in progress finish on the Vm they started on.
  Status reload(const Sources& sources);
  /// Runs in progress (tests).
  std::size_t runs() const noexcept { return runs_.size(); }
  /// Tests: the current Vm's allocation under the memory limit numbered `n` (1: the next one a
  /// script makes) fails as one past the limit would; 0: none. Returns how many allocations were
  /// still to come before the one set earlier (0: it failed, or none was set).
  std::uint64_t fail_allocation(std::uint64_t n) noexcept;

  /// Loads every script once in a throwaway VM: the startup check (syntax errors, top-level
  /// errors). Any thread.
  static Status check_scripts(const LuaShared& shared, const Sources& sources);

  // For the Lua bindings (lua_library.cc, lua_client.cc, lua_http.cc, lua_shared_object.cc).
  PollGroup& group() noexcept { return group_; }
  const LuaShared& shared() const noexcept { return *shared_; }
  /// Starts an asynchronous wait for the running hook whose coroutine is `L`: `start` gets the
  /// callback that resumes it. Returns the answer when it came at once, Outcome::waiting() when
  /// the caller must yield, or a failure (not in a hook's own coroutine). Never raises or yields
  /// itself: it runs inside a binding's C++ part (lua_binding.h).
  Outcome wait(lua_State* L, const char* what, const std::function<void(LuaDone)>& start);

 private:
  void start(std::shared_ptr<Vm> vm, std::shared_ptr<AppClient> client, std::string app, RunKind kind,
             AppRequest request, AppVerdictCallback done, int attempt);
  bool has_function(std::string_view app, std::string_view table, std::string_view name) const noexcept;
  void resume(std::uint64_t run_id, int nargs);
  void finish(std::uint64_t run_id, AppVerdict verdict);
  void fail(std::uint64_t run_id, Errc code, const std::string& why);
  Run* find(std::uint64_t run_id) noexcept;

  PollGroup& group_;
  const LuaShared* shared_;
  std::shared_ptr<Vm> vm_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Run>> runs_;
  std::uint64_t next_run_ = 1;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
};

}  // namespace weir::lua
