// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The apps service: server-side applications. A protocol module (mod_rtmp, later mod_rtsp) asks
/// the application of a client what to do at its control points (connect, publish, play, a
/// client's RPC call) and tells it what happened (unpublish, stop, disconnect). An application is
/// named by the client's `app` (the first path segment of an RTMP URL); mod_lua provides the
/// service and maps apps to Lua scripts.
///
///   auto apps = registrar.optional_service<AppsService>();  // null: defaults
///   if (apps->has_hook(group, "live", AppHook::publish))
///     apps->request(client, {AppHook::publish, {}, {stream}}, [](AppVerdict v) { ... });
///
/// Nothing here is on the media path: a protocol module asks has_hook() once per control point
/// and skips the request when the app does not define the hook (no script call per frame, ever).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/connection.h"
#include "weir/poll_group.h"
#include "weir/registrar.h"
#include "weir/value.h"

namespace weir {

/// The control points of a client's life. Requests with a verdict: connect, publish, play, call,
/// stream_not_found (a play of a name nobody publishes: the verdict may rename it, or name where to
/// pull it from), update (every update_interval() while connected: a reject disconnects the client). Notifications (the verdict
/// is ignored): unpublish, stop, disconnect, no_readers (the last player of a stream this client
/// publishes left, on any group). New hooks are added at the end.
enum class AppHook : std::uint8_t {
  connect = 0, publish, play, call, unpublish, stop, disconnect, stream_not_found, update, no_readers
};
inline constexpr std::size_t kAppHookCount = 10;

/// "connect", "publish", ... (the Lua hook is "on_" + this; call is `methods.<name>`).
constexpr std::string_view app_hook_name(AppHook hook) noexcept {
  switch (hook) {
    case AppHook::connect: return "connect";
    case AppHook::publish: return "publish";
    case AppHook::play: return "play";
    case AppHook::call: return "call";
    case AppHook::unpublish: return "unpublish";
    case AppHook::stop: return "stop";
    case AppHook::disconnect: return "disconnect";
    case AppHook::stream_not_found: return "stream_not_found";
    case AppHook::update: return "update";
    case AppHook::no_readers: return "no_readers";
  }
  return "unknown";
}

/// What the application decided.
struct AppVerdict {
  enum class Kind : std::uint8_t { accept = 0, reject, redirect };
  Kind kind = Kind::accept;
  /// reject: the status code the client sees ("NetStream.Publish.Unauthorized"); empty: the
  /// protocol module's default rejection code for the control point.
  std::string code;
  /// reject, redirect: the description the client sees.
  std::string description;
  /// accept of publish or play: when not empty, the stream name to use instead of the client's.
  std::string stream_name;
  /// redirect: where the client should go instead ("rtmp://edge2/live").
  std::string redirect_url;
  /// accept of stream_not_found: where to pull the stream from ("rtsp://camera/h264"); the
  /// protocol module plays it with this as SubscribeOptions::source. Added in ABI 4.
  std::string pull_url;
  /// accept: when > 0, the client is disconnected this long after the verdict.
  std::chrono::milliseconds lifetime{0};
  /// accept: values to attach to the client (merged into AppClient::values()).
  Members values;
  /// call: the method's return value, sent to the client (`_result`); a reject is an `_error`.
  Value result;
};

using AppVerdictCallback = std::function<void(AppVerdict verdict)>;

/// The protocol module's side of one client, as the application sees it. Thread: the client's
/// poll group (every call). Shared: the application may keep it past the connection's end, when
/// is_open() turns false and call()/close() do nothing.
class AppClient {
 public:
  virtual ~AppClient() = default;
  /// The connection's id (unique for the process lifetime).
  virtual ConnectionId id() const noexcept = 0;
  virtual PollGroup& group() noexcept = 0;
  /// "rtmp", "rtmps".
  virtual std::string_view protocol() const noexcept = 0;
  /// The application name ("live").
  virtual std::string_view app() const noexcept = 0;
  /// The peer's address, "127.0.0.1:50412".
  virtual std::string_view address() const noexcept = 0;
  virtual bool is_open() const noexcept = 0;
  /// Calls method `name` on the client (RTMP: a command the client's NetConnection answers).
  /// `done` (may be empty) gets the client's answer, or an error when the client answers with an
  /// error or goes away; it is called on the client's group, never inside call().
  virtual void call(std::string_view name, std::vector<Value> args,
                    std::function<void(Result<Value>)> done) noexcept = 0;
  /// Closes the connection (logged with `reason`).
  virtual void close(std::string_view reason) noexcept = 0;
  /// Values the application attached to this client (an object; starts empty).
  virtual Value& values() noexcept = 0;
};

/// One request to an application.
struct AppRequest {
  AppHook hook = AppHook::connect;
  /// call: the method name.
  std::string method;
  /// connect: {params}; publish, play, unpublish, stop, stream_not_found, no_readers: {stream};
  /// call: the call's arguments; disconnect, update: {}.
  std::vector<Value> args;
};

class AppsService : public Service {
 public:
  static constexpr std::string_view kServiceName = "apps";
  static constexpr std::string_view kServiceType = "weir::AppsService/1";
  std::string_view service_type() const noexcept final { return kServiceType; }

  /// Whether application `app` defines `hook` (for call: method `method`). False when the app has
  /// no script: the protocol module then keeps its default behaviour. Thread: `group`'s.
  virtual bool has_hook(PollGroup& group, std::string_view app, AppHook hook,
                        std::string_view method = {}) const noexcept = 0;
  /// Runs the hook for `client`. `done` (may be empty for notifications) is called once on the
  /// client's group with the verdict, never inside request(); when the application fails (error,
  /// timeout) the verdict follows its fail-open or fail-closed setting. Thread: the client's group.
  virtual void request(std::shared_ptr<AppClient> client, AppRequest request, AppVerdictCallback done) noexcept = 0;
  /// How often a connected client of an app that defines update is asked (the protocol module
  /// runs the timer, and skips a tick while the previous update is still running). Any thread.
  virtual std::chrono::milliseconds update_interval() const noexcept = 0;
  /// How long a stream must stay without players before no_readers is asked (0: at once). The
  /// protocol module waits, and asks only when nobody came back meanwhile. Any thread.
  virtual std::chrono::milliseconds no_readers_delay() const noexcept = 0;
};

}  // namespace weir
