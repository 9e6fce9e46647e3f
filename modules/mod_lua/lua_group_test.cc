// SPDX-License-Identifier: Apache-2.0
// mod_lua's engine on a real poll group: scripts given as text, hooks asked through LuaGroup as the
// apps service does, verdicts read back on the test thread. The client is the test's (a protocol
// module's side); everything Lua is the real engine.
#include <gtest/gtest.h>

#include <lua.hpp>

#include <future>
#include <memory>

#include "lua_group.h"
#include "lua_value.h"
#include "test_groups.h"
#include "weir/shared_objects.h"

namespace weir::lua {
namespace {

using kernel::testing::kWaitLimit;
using kernel::testing::TestGroups;

class TestClient final : public AppClient {
 public:
  TestClient(PollGroup& group, std::string app) : group_(group), app_(std::move(app)) {}
  ConnectionId id() const noexcept override { return 17; }
  PollGroup& group() noexcept override { return group_; }
  std::string_view protocol() const noexcept override { return "test"; }
  std::string_view app() const noexcept override { return app_; }
  std::string_view address() const noexcept override { return "127.0.0.1:5000"; }
  bool is_open() const noexcept override { return !closed_; }
  void call(std::string_view name, std::vector<Value> args, std::function<void(Result<Value>)> done) noexcept override {
    calls.push_back(std::string(name));
    // The client answers its method's name and first argument, later (as a peer would).
    Value answer = Value::object({{"method", std::string(name)}, {"first", args.empty() ? Value() : args[0]}});
    group_.defer([done = std::move(done), answer] { if (done) done(answer); });
  }
  void close(std::string_view reason) noexcept override {
    closed_ = true;
    close_reason = reason;
  }
  Value& values() noexcept override { return values_; }

  std::vector<std::string> calls;
  std::string close_reason;

 private:
  PollGroup& group_;
  std::string app_;
  bool closed_ = false;
  Value values_ = Value::object();
};

class LuaGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_.config.hook_timeout = std::chrono::milliseconds(3000);
    shared_.config.instruction_limit = 200'000;
    shared_.logger = Logger(&groups_.log(), "lua");
  }
  void TearDown() override {
    groups_.run(0, [this] {
      client_.reset();
      engine_.reset();
    });
  }

  /// Loads `text` as the script of app "live" on group 0.
  void load(const std::string& text) {
    shared_.config.apps = {AppScript{"live", "live.lua", "live.lua"}};
    auto sources = std::make_shared<Sources>(Sources{ScriptSource{shared_.config.apps[0], text}});
    ASSERT_TRUE(LuaGroup::check_scripts(shared_, *sources).is_ok());
    groups_.run(0, [this, sources] {
      engine_ = std::make_unique<LuaGroup>(groups_[0], &shared_, sources);
      client_ = std::make_shared<TestClient>(groups_[0], "live");
    });
  }

  AppVerdict ask(AppRequest request) {
    auto promise = std::make_shared<std::promise<AppVerdict>>();
    auto future = promise->get_future();
    groups_.run(0, [&] {
      engine_->request(client_, std::move(request), [promise](AppVerdict v) { promise->set_value(std::move(v)); });
    });
    if (future.wait_for(kWaitLimit) != std::future_status::ready) kernel::testing::wait_expired("a verdict");
    return future.get();
  }
  AppVerdict call(std::string method, std::vector<Value> args) {
    return ask(AppRequest{AppHook::call, std::move(method), std::move(args)});
  }
  bool has(AppHook hook, std::string_view method = {}) {
    return groups_.run(0, [&] { return engine_->has_hook("live", hook, method); });
  }

  TestGroups groups_{2};  // scripts on group 0; group 1 for shared-object subscribers
  LuaShared shared_;
  std::unique_ptr<LuaGroup> engine_;
  std::shared_ptr<TestClient> client_;
};

Value nested_value() {
  return Value::object({{"array", Value::array({1, "two", Value::null(), Value::array({}), Value::object({{"x", 1.5}})})},
                        {"date", Value::date(1700000000123.0)},
                        {"flag", false},
                        {"nothing", Value::null()},
                        {"number", -2.25},
                        {"object", Value::object({{"deep", Value::object({{"deeper", "yes"}})}})},
                        {"text", std::string("a\0b", 3)}});
}

TEST(LuaValue, ValuesRoundTripThroughLuaUnchanged) {
  lua_State* L = luaL_newstate();
  open_value_types(L);
  for (const Value& v : {Value(), Value::null(), Value(true), Value(3), Value(0.5), Value("s"), Value::date(-1),
                         Value::array(), Value::object(), nested_value()}) {
    push_value(L, v);
    auto back = to_value(L, -1);
    lua_pop(L, 1);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, v);
  }
  lua_close(L);
}

TEST(LuaValue, LuaTablesBecomeArraysOrObjectsByTheirKeys) {
  lua_State* L = luaL_newstate();
  open_value_types(L);
  ASSERT_EQ(luaL_dostring(L, "return {10, 20, 30}, {b = 1, a = {true}}, {[1] = 'x', [3] = 'y'}, {}"), LUA_OK);
  EXPECT_EQ(*to_value(L, 1), Value::array({10, 20, 30}));
  EXPECT_EQ(*to_value(L, 2), Value::object({{"a", Value::array({true})}, {"b", 1}}));  // sorted by name
  EXPECT_EQ(*to_value(L, 3), Value::object({{"1", "x"}, {"3", "y"}}));               // not 1..n: an object
  EXPECT_EQ(*to_value(L, 4), Value::object());
  lua_close(L);
}

TEST(LuaValue, FunctionsAndCyclesAreRefusedWithThePath) {
  lua_State* L = luaL_newstate();
  open_value_types(L);
  ASSERT_EQ(luaL_dostring(L, "local t = {} t.self = t return {user = {f = function() end}}, t"), LUA_OK);
  auto f = to_value(L, 1);
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message().find("value.user.f: a function cannot be sent"), std::string::npos) << f.error().message();
  auto cycle = to_value(L, 2);
  ASSERT_FALSE(cycle.has_value());
  EXPECT_EQ(cycle.error().code(), Errc::limit);
  lua_close(L);
}

TEST_F(LuaGroupTest, AMethodGetsItsArgumentsAndItsResultComesBack) {
  load("methods = {} function methods.echo(client, a, b) return {client = client.id, a = a, b = b} end");
  AppVerdict v = call("echo", {nested_value(), Value::date(5)});
  EXPECT_EQ(v.kind, AppVerdict::Kind::accept);
  EXPECT_EQ(v.result, Value::object({{"a", nested_value()}, {"b", Value::date(5)}, {"client", 17}}));
}

TEST_F(LuaGroupTest, ValuesBuiltInLuaArriveTyped) {
  load("methods = {} function methods.make() return {n = weir.null, d = weir.date(42), e = weir.array{}, "
       "i = 7, f = 0.25, s = 'x'} end");
  EXPECT_EQ(call("make", {}).result,
            Value::object({{"d", Value::date(42)}, {"e", Value::array()}, {"f", 0.25}, {"i", 7}, {"n", Value::null()},
                           {"s", "x"}}));
}

TEST_F(LuaGroupTest, OnlyDefinedHooksAndMethodsAreReported) {
  load("function on_publish(c, s) end methods = {ping = function() return 'pong' end}");
  EXPECT_TRUE(has(AppHook::publish));
  EXPECT_FALSE(has(AppHook::play));
  EXPECT_FALSE(has(AppHook::connect));
  EXPECT_TRUE(has(AppHook::call, "ping"));
  EXPECT_FALSE(has(AppHook::call, "pong"));
  EXPECT_FALSE(groups_.run(0, [this] { return engine_->has_hook("other", AppHook::publish, {}); }));
}

TEST_F(LuaGroupTest, AVerdictCanRejectRenameLimitAndAttach) {
  load(R"(
    function on_publish(client, stream)
      if stream.args.token ~= 's3cret' then
        return weir.reject('NetStream.Publish.Unauthorized', 'bad token for ' .. stream.name)
      end
      return weir.accept{name = 'mapped_' .. stream.name, lifetime = 1500, values = {user = 'alice'}}
    end
    function on_play(client, stream) return false, 'no' end
    function on_connect(client, params) return weir.redirect('rtmp://edge2/live') end)");
  AppVerdict bad = ask({AppHook::publish, {}, {Value::object({{"name", "cam"}, {"args", Value::object({{"token", "x"}})}})}});
  EXPECT_EQ(bad.kind, AppVerdict::Kind::reject);
  EXPECT_EQ(bad.code, "NetStream.Publish.Unauthorized");
  EXPECT_EQ(bad.description, "bad token for cam");
  AppVerdict good =
      ask({AppHook::publish, {}, {Value::object({{"name", "cam"}, {"args", Value::object({{"token", "s3cret"}})}})}});
  EXPECT_EQ(good.kind, AppVerdict::Kind::accept);
  EXPECT_EQ(good.stream_name, "mapped_cam");
  EXPECT_EQ(good.lifetime, std::chrono::milliseconds(1500));
  EXPECT_EQ(Value::object(good.values), Value::object({{"user", "alice"}}));
  AppVerdict play = ask({AppHook::play, {}, {Value::object({{"name", "cam"}})}});
  EXPECT_EQ(play.kind, AppVerdict::Kind::reject);
  EXPECT_EQ(play.description, "no");
  AppVerdict connect = ask({AppHook::connect, {}, {Value::object()}});
  EXPECT_EQ(connect.kind, AppVerdict::Kind::redirect);
  EXPECT_EQ(connect.redirect_url, "rtmp://edge2/live");
}

TEST_F(LuaGroupTest, AStreamNotFoundVerdictMayNameWhereToPullFromAndOnlyThatHookMay) {
  load(R"(
    function on_stream_not_found(client, stream)
      return weir.accept{pull = 'rtsp://10.0.0.7/' .. stream.name, name = 'cams_' .. stream.name}
    end
    function on_play(client, stream) return weir.accept{pull = 'rtsp://10.0.0.7/x'} end
    function on_publish(client, stream) return weir.accept{nmae = 'typo'} end)");
  AppVerdict pulled = ask({AppHook::stream_not_found, {}, {Value::object({{"name", "door"}})}});
  EXPECT_EQ(pulled.kind, AppVerdict::Kind::accept);
  EXPECT_EQ(pulled.pull_url, "rtsp://10.0.0.7/door");
  EXPECT_EQ(pulled.stream_name, "cams_door");
  // Anywhere else a pull is the script's mistake: the hook fails (and fails closed here).
  AppVerdict play = ask({AppHook::play, {}, {Value::object({{"name", "door"}})}});
  EXPECT_EQ(play.kind, AppVerdict::Kind::reject);
  EXPECT_EQ(play.pull_url, "");
  // So is a field weir.accept does not know (a misspelt one would otherwise do nothing).
  AppVerdict publish = ask({AppHook::publish, {}, {Value::object({{"name", "door"}})}});
  EXPECT_EQ(publish.kind, AppVerdict::Kind::reject);
}

TEST_F(LuaGroupTest, AHookWaitsWithoutBlockingItsGroup) {
  load("methods = {} function methods.slow(c) weir.sleep(200) return 'late' end "
       "function methods.fast(c) return 'early' end");
  auto promise = std::make_shared<std::promise<AppVerdict>>();
  auto slow = promise->get_future();
  groups_.run(0, [&] {
    engine_->request(client_, {AppHook::call, "slow", {}}, [promise](AppVerdict v) { promise->set_value(v); });
  });
  // While the slow one sleeps, the group answers another request.
  EXPECT_EQ(call("fast", {}).result, Value("early"));
  EXPECT_EQ(slow.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  ASSERT_EQ(slow.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_EQ(slow.get().result, Value("late"));
  EXPECT_EQ(groups_.run(0, [this] { return engine_->runs(); }), 0u);
}

TEST_F(LuaGroupTest, ClientCallWaitsForTheClientsAnswer) {
  load("methods = {} function methods.ask(c) local answer = c:call('whoami', 5) c:set('seen', answer.first) "
       "return answer end");
  EXPECT_EQ(call("ask", {}).result, Value::object({{"first", 5}, {"method", "whoami"}}));
  EXPECT_EQ(client_->calls, std::vector<std::string>{"whoami"});
  EXPECT_EQ(client_->values().find("seen")->as_number(), 5);
}

TEST_F(LuaGroupTest, ModuleFunctionsAnswerLater) {
  shared_.functions.push_back(ModuleFunction{"test", "twice", [](PollGroup& group, std::vector<Value> args, LuaDone done) {
    double n = args.empty() ? 0 : args[0].as_number();
    group.defer([done = std::move(done), n] { done(Value(2 * n)); });
  }});
  shared_.functions.push_back(ModuleFunction{"test", "fails", [](PollGroup&, std::vector<Value>, LuaDone done) {
    done(Status(Errc::not_found, "nothing here"));
  }});
  load("methods = {} function methods.go() local v = weir.test.twice(21) local n, err = weir.test.fails() "
       "return {v = v, n = n == nil, err = err} end");
  EXPECT_EQ(call("go", {}).result, Value::object({{"err", "nothing here"}, {"n", true}, {"v", 42}}));
}

TEST_F(LuaGroupTest, BadArgumentsAndOddErrorObjectsFailOnlyTheirRequest) {
  shared_.functions.push_back(ModuleFunction{"test", "id", [](PollGroup&, std::vector<Value> args, LuaDone done) {
    done(args.empty() ? Value() : args[0]);
  }});
  load("methods = {} function methods.badarg() return weir.test.id(function() end) end "
       "function methods.badset(c) c:set('k', print) end "
       "function methods.odd() error(setmetatable({}, {__tostring = function() error('nested') end})) end "
       "function methods.caught() local ok, err = pcall(weir.test.id, {f = print}) return err end "
       "function methods.fine() return weir.test.id('x') end");
  EXPECT_EQ(call("badarg", {}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("badset", {}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("odd", {}).kind, AppVerdict::Kind::reject);
  std::string caught(call("caught", {}).result.as_string());
  EXPECT_NE(caught.find("weir.test.id: argument 1: value.f: a function cannot be sent"), std::string::npos) << caught;
  EXPECT_EQ(call("fine", {}).result, Value("x"));
}

TEST_F(LuaGroupTest, ARunawayScriptIsStoppedEvenInsidePcall) {
  load("methods = {} function methods.spin() while true do end end "
       "function methods.sly() while true do pcall(function() while true do end end) end end "
       "function methods.ok() return 1 end");
  AppVerdict spin = call("spin", {});
  EXPECT_EQ(spin.kind, AppVerdict::Kind::reject);
  EXPECT_EQ(spin.description, "Method failed (spin)");
  EXPECT_EQ(call("sly", {}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("ok", {}).result, Value(1));  // the VM goes on serving
}

TEST_F(LuaGroupTest, AScriptPastTheMemoryLimitFailsAlone) {
  shared_.config.memory_limit_bytes = 8u << 20;
  shared_.config.instruction_limit = 100'000'000;
  load("methods = {} function methods.hog() return #string.rep('x', 1 << 30) end "
       "function methods.grow() local t = {} for i = 1, 10000000 do t[i] = {i} end return #t end "
       "function methods.ok() return 'ok' end");
  EXPECT_EQ(call("hog", {}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("grow", {}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("ok", {}).result, Value("ok"));  // the collector gives the memory back
}

TEST_F(LuaGroupTest, AnErrorRejectsTheRequestAndFailOpenAccepts) {
  load("function on_publish() error('boom') end function on_play() local x = nil; return x.y end");
  EXPECT_EQ(ask({AppHook::publish, {}, {Value::object()}}).kind, AppVerdict::Kind::reject);
  shared_.config.fail_open[static_cast<std::size_t>(AppHook::play)] = true;
  EXPECT_EQ(ask({AppHook::play, {}, {Value::object()}}).kind, AppVerdict::Kind::accept);
}

TEST_F(LuaGroupTest, AHookPastItsTimeoutIsRetriedThenFailsClosed) {
  shared_.config.hook_timeout = std::chrono::milliseconds(100);
  shared_.config.hook_retries = 1;
  load("tries = 0 function on_publish() tries = tries + 1 weir.sleep(5000) end "
       "methods = {tries = function() return tries end}");
  EXPECT_EQ(ask({AppHook::publish, {}, {Value::object()}}).kind, AppVerdict::Kind::reject);
  EXPECT_EQ(call("tries", {}).result, Value(2));
  EXPECT_EQ(groups_.run(0, [this] { return engine_->runs(); }), 0u);
}

TEST_F(LuaGroupTest, CountsAreSharedPerAppAndLimited) {
  shared_.config.env = {{"limit", "2"}};
  load("methods = {} function methods.take() local n, err = weir.count('slots', 1, tonumber(weir.env.limit)) "
       "return n or err end function methods.give() return weir.count('slots', -1) end");
  EXPECT_EQ(call("take", {}).result, Value(1));
  EXPECT_EQ(call("take", {}).result, Value(2));
  EXPECT_EQ(call("take", {}).result, Value("limit"));
  EXPECT_EQ(call("give", {}).result, Value(1));
  // The same count from any thread, under the app's name.
  EXPECT_EQ(shared_.counts.add("live/slots", 0, 100), std::optional<std::int64_t>(1));
}

TEST_F(LuaGroupTest, ScriptsAreSandboxed) {
  load("methods = {} function methods.probe() return {os_execute = os.execute == nil, io = io == nil, "
       "require = require == nil, load = load == nil, time = type(os.time()) == 'number', "
       "string_mt = getmetatable('') == false, date_mt = getmetatable(weir.date(1)) == false} end");
  EXPECT_EQ(call("probe", {}).result,
            Value::object({{"date_mt", true}, {"io", true}, {"load", true}, {"os_execute", true}, {"require", true},
                           {"string_mt", true}, {"time", true}}));
}

TEST_F(LuaGroupTest, SyntaxAndTopLevelErrorsNameTheScriptAndLine) {
  shared_.config.apps = {AppScript{"live", "live.lua", "live.lua"}};
  Sources syntax{ScriptSource{shared_.config.apps[0], "x = 1\nfunction (\n"}};
  Status s = LuaGroup::check_scripts(shared_, syntax);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("live.lua:2:"), std::string::npos) << s.message();
  Sources count{ScriptSource{shared_.config.apps[0], "weir.count('x', 1)"}};
  Status c = LuaGroup::check_scripts(shared_, count);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.message().find("weir.count: only inside a hook"), std::string::npos) << c.message();
  Sources loop{ScriptSource{shared_.config.apps[0], "while true do end"}};
  Status l = LuaGroup::check_scripts(shared_, loop);
  ASSERT_FALSE(l.is_ok());
  EXPECT_EQ(l.code(), Errc::limit);
}

TEST_F(LuaGroupTest, ServerStartRunsOnceAsAHookThatMayWait) {
  // on_server_start gets the app, may wait (here for a backend the test answers) and sets state
  // its app's hooks see.
  LuaDone backend;  // group 0's
  auto hold = [&backend](PollGroup&, std::vector<Value>, LuaDone done) { backend = std::move(done); };
  shared_.functions.push_back(ModuleFunction{"test", "backend", hold});
  load("started = nil function on_server_start(app) local v = weir.test.backend() started = app.name .. v "
       "weir.count('boots', 1) end methods = {} function methods.state() return {started = started, "
       "boots = weir.count('boots', 0)} end");
  groups_.run(0, [this] { engine_->server_start(); });
  // It runs as a hook: the group answers while it waits.
  EXPECT_EQ(call("state", {}).result, Value::object({{"boots", 0}}));
  EXPECT_EQ(groups_.run(0, [this] { return engine_->runs(); }), 1u);
  groups_.run(0, [&backend] { backend(Value(" ok")); });
  EXPECT_EQ(call("state", {}).result, Value::object({{"boots", 1}, {"started", "live ok"}}));
  EXPECT_EQ(groups_.run(0, [this] { return engine_->runs(); }), 0u);
}

TEST_F(LuaGroupTest, NoReadersGetsThePublisherAndTheStreamAndMayCloseIt) {
  load("function on_no_readers(client, stream) if stream.name == 'pull' then client:close('idle ' .. stream.app) "
       "end end");
  EXPECT_TRUE(has(AppHook::no_readers));
  Value stream = Value::object({{"name", "pull"}, {"app", "live"}, {"args", Value::object()}});
  EXPECT_EQ(ask({AppHook::no_readers, {}, {stream}}).kind, AppVerdict::Kind::accept);
  EXPECT_EQ(client_->close_reason, "idle live");
}

TEST_F(LuaGroupTest, AFailingServerStartIsLoggedAndLeavesTheAppServing) {
  load("function on_server_start(app) error('backend down') end methods = {v = function() return 1 end}");
  groups_.run(0, [this] { engine_->server_start(); });
  EXPECT_EQ(groups_.run(0, [this] { return engine_->runs(); }), 0u);
  EXPECT_EQ(call("v", {}).result, Value(1));
}

TEST_F(LuaGroupTest, AReloadSwapsScriptsAndABrokenOneKeepsTheOld) {
  load("methods = {v = function() return 1 end}");
  Sources v2{ScriptSource{shared_.config.apps[0], "methods = {v = function() return 2 end}"}};
  EXPECT_TRUE(groups_.run(0, [&] { return engine_->reload(v2); }).is_ok());
  EXPECT_EQ(call("v", {}).result, Value(2));
  Sources broken{ScriptSource{shared_.config.apps[0], "methods = {"}};
  EXPECT_FALSE(groups_.run(0, [&] { return engine_->reload(broken); }).is_ok());
  EXPECT_EQ(call("v", {}).result, Value(2));
}

// Every binding at the memory limit: the allocations a call makes under the limit fail one after
// the other (N = 1, 2, ... until the call makes fewer than N). C Lua raises with longjmp: an error
// raised while a C++ object lives skips its destructor (a leak or worse under ASan). Each failure
// must stay a Lua error (the script's pcall gets it, or the run fails alone), the VM goes on
// serving, and a binding's own failure names the limit.
TEST_F(LuaGroupTest, EveryBindingFailsCleanlyAtEachAllocationUnderTheMemoryLimit) {
  shared_.config.instruction_limit = 100'000'000;
  shared_.functions.push_back(ModuleFunction{"test", "id", [](PollGroup&, std::vector<Value> args, LuaDone done) {
    done(args.empty() ? Value() : args[0]);  // answered at once: no yield
  }});
  shared_.functions.push_back(ModuleFunction{"test", "later", [](PollGroup& group, std::vector<Value> args, LuaDone done) {
    group.defer([done = std::move(done), v = args.empty() ? Value() : args[0]] { done(v); });
  }});
  load(R"(
    local long = string.rep('x', 64)  -- past any small-string buffer: a skipped destructor leaks
    local room = weir.shared_object('room')
    local function value() return {text = long, list = {1, 2, long}, nested = {deeper = {long}}, d = weir.date(1)} end
    local function try(f, ...)
      local ok, err = pcall(f, ...)
      if ok then return 'ok' end
      return 'failed: ' .. tostring(err)
    end
    methods = {
      tostring = function(c) return try(tostring, c) end,
      index = function(c) return try(function() return c.address, c.protocol, c.app, c.id end) end,
      set = function(c) return try(c.set, c, long, value()) end,
      get = function(c) return try(c.get, c, 'k') end,
      call = function(c) return try(c.call, c, long, value()) end,
      accept = function() return try(weir.accept, {name = long, values = value()}) end,
      reject = function() return try(weir.reject, long, long) end,
      redirect = function() return try(weir.redirect, long, long) end,
      date = function() return try(weir.date, 5) end,
      array = function() return try(weir.array, {1, 2}) end,
      log = function() return try(weir.log, long, 1, true) end,
      warn = function() return try(weir.warn, long) end,
      count = function() return try(weir.count, long, 0) end,
      sleep = function() return try(weir.sleep, 0) end,
      http = function() return try(weir.http, {url = 'ftp://' .. long, method = 'POST', body = long,
                                                headers = {[long] = long}}) end,
      http_no_url = function()
        local r = try(weir.http, {method = long})
        return r:find('the request has no url', 1, true) and 'ok' or r
      end,
      id = function() return try(weir.test.id, value()) end,
      later = function() return try(weir.test.later, value()) end,
      so_handle = function() return try(weir.shared_object, long) end,
      so_set = function() return try(room.set, room, long, value()) end,
      so_get = function() return try(room.get, room, long) end,
      so_get_all = function() return try(room.get, room) end,
      so_send = function() return try(room.send, room, long, value()) end,
      so_remove = function() return try(room.remove, room, long) end,
      so_clear = function() return try(room.clear, room) end,
      so_names = function() return try(weir.shared_object_names) end,
      so_tostring = function() return try(tostring, room) end,
      ok = function() return 'ok' end,
    }
  )");
  client_->values() = Value::object({{"k", nested_value()}});
  int named = 0;
  for (const char* method : {"tostring", "index", "set", "get", "call", "accept", "reject", "redirect", "date", "array",
                             "log", "warn", "count", "sleep", "http", "http_no_url", "id", "later", "so_handle",
                             "so_set", "so_get", "so_get_all", "so_send", "so_remove", "so_clear", "so_names",
                             "so_tostring"}) {
    for (std::uint64_t n = 1;; ++n) {
      ASSERT_LT(n, 10'000u) << method;
      groups_.run(0, [&] { engine_->fail_allocation(n); });
      AppVerdict v = call(method, {});
      bool made_fewer = groups_.run(0, [&] { return engine_->fail_allocation(0); }) != 0;
      ASSERT_EQ(call("ok", {}).result, Value("ok")) << method << " n=" << n;  // the VM goes on serving
      if (made_fewer) {
        EXPECT_EQ(v.result, Value("ok")) << method << " n=" << n;
        break;
      }
      if (v.kind == AppVerdict::Kind::reject) continue;  // the script's own allocation failed the run
      ASSERT_TRUE(v.result.is_string()) << method << " n=" << n;
      std::string text(v.result.as_string());
      if (text == "ok") continue;  // a failure Lua absorbs (a string table that did not grow)
      EXPECT_NE(text.find("not enough memory"), std::string::npos) << method << " n=" << n << ": " << text;
      if (text.find("(memory_limit of ") != std::string::npos) ++named;
    }
  }
  EXPECT_GT(named, 0);
}

// A subscriber on another group, as an RTMP client's session would be (group 1's only).
class SharedObjectRecorder final : public SharedObjectSubscriber {
 public:
  void on_update(const SharedObjectUpdate& update) noexcept override {
    for (const SharedObjectEvent& e : update.events) events.push_back(e);
  }
  void on_refused(std::string_view, const Value&, const Status&) noexcept override {}
  void on_failed(const Status& why) noexcept override { failed = why.message(); }
  bool saw(SharedObjectEvent::Type type, std::string_view name, const Value& value) const {
    for (const SharedObjectEvent& e : events)
      if (e.type == type && e.name == name && e.value == value) return true;
    return false;
  }
  std::vector<SharedObjectEvent> events;
  std::string failed;
};

TEST_F(LuaGroupTest, SharedObjectsChangedByAScriptReachSubscribersOnOtherGroupsAndGetReadsTheirChanges) {
  load(R"(
    local room = weir.shared_object('room')   -- a handle: fine at the top level
    methods = {}
    function methods.say(c, text)
      assert(room:set('last', {text = text}))
      return room:send('said', text, 2)
    end
    function methods.read(c) return {slot = room:get('x'), all = room:get(), none = room:get('nothing') == nil,
                                     name = room.name, persistent = room.persistent} end
    function methods.drop(c) assert(room:remove('last')) return room:set('x', nil) end
    function methods.names() return weir.shared_object_names() end
    function methods.empty() local ok, err = room:set('', 1) return {ok = ok == nil, err = err} end
  )");
  SharedObjectRecorder recorder;
  std::unique_ptr<SharedObjectSubscription> subscription;
  groups_.run(1, [&] {
    subscription = std::move(*groups_[1].shared_objects().subscribe(SharedObjectKey{"live", "room", false}, recorder));
  });
  auto sees = [&](SharedObjectEvent::Type type, std::string_view name, const Value& value) {
    return kernel::testing::wait_until([&] { return groups_.run(1, [&] { return recorder.saw(type, name, value); }); });
  };
  // Subscribed first (the initial update came): a send reaches only those subscribed when it is made.
  ASSERT_TRUE(kernel::testing::wait_until([&] { return groups_.run(1, [&] { return !recorder.events.empty(); }); }));
  EXPECT_EQ(call("say", {"hi"}).result, Value(true));
  EXPECT_TRUE(sees(SharedObjectEvent::Type::changed, "last", Value::object({{"text", "hi"}})));
  EXPECT_TRUE(sees(SharedObjectEvent::Type::message, "said", Value::array({"hi", 2})));
  // A change from the other group is what the script's get reads.
  groups_.run(1, [&] { subscription->set("x", Value(5)); });
  EXPECT_TRUE(sees(SharedObjectEvent::Type::changed, "x", Value(5)));
  EXPECT_EQ(call("read", {}).result,
            Value::object({{"all", Value::object({{"last", Value::object({{"text", "hi"}})}, {"x", 5}})},
                           {"name", "room"}, {"none", true}, {"persistent", false}, {"slot", 5}}));
  EXPECT_EQ(call("drop", {}).result, Value(true));
  EXPECT_TRUE(sees(SharedObjectEvent::Type::removed, "last", Value()));
  EXPECT_TRUE(sees(SharedObjectEvent::Type::removed, "x", Value()));
  EXPECT_EQ(call("names", {}).result, Value::array({Value::object({{"name", "room"}, {"persistent", false}})}));
  Value empty = call("empty", {}).result;
  EXPECT_EQ(empty.find("ok")->as_bool(), true);
  EXPECT_FALSE(empty.find("err")->as_string().empty());
  groups_.run(1, [&] { subscription.reset(); });
  EXPECT_EQ(groups_.run(1, [&] { return recorder.failed; }), "");
}

TEST_F(LuaGroupTest, SharedObjectCallsWaitOnlyInAHook) {
  shared_.config.apps = {AppScript{"live", "live.lua", "live.lua"}};
  Sources top{ScriptSource{shared_.config.apps[0], "weir.shared_object('room'):set('x', 1)"}};
  Status s = LuaGroup::check_scripts(shared_, top);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("so:set: only inside a hook"), std::string::npos) << s.message();
  load("methods = {} function methods.bad() return weir.shared_object('room'):set('x', print) end");
  EXPECT_EQ(call("bad", {}).kind, AppVerdict::Kind::reject);
}

}  // namespace
}  // namespace weir::lua
