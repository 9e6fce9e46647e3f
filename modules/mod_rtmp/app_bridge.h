// SPDX-License-Identifier: Apache-2.0
#pragma once
// AppBridge: one RTMP connection's side of its server-side application (weir/services/apps.h, served by
// mod_lua). It asks the apps service for verdicts and applies them:
//
//   command --> session --has_hook?--> ask(request) ----> apps service (a Lua hook, may yield)
//                  |                       |                     |
//                  |  commands behind it:  v                     v
//                  +----> queued (bounded) ... verdict --> then(verdict) --> session.resume_commands()
//
// The application sees the connection as an AppClient (RtmpAppClient, made at the first hook); it
// may hold that past the connection: detach() cuts the link. Also here: the application's calls
// to the client (client:call) and their answers, on_update, and the connection's lifetime.
// Thread: the connection's poll group. Owned by the session.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/amf/value.h"
#include "formats/rtmp/chunk_reader.h"
#include "weir/services/apps.h"
#include "weir/poll_group.h"
#include "weir/value.h"

namespace weir::rtmp {

class RtmpAppClient;
class RtmpSession;

class AppBridge {
 public:
  /// A command that arrived while a hook ran: handled, in order, after the verdict.
  struct QueuedCommand {
    formats::rtmp::MessageHeader header;
    std::vector<std::uint8_t> payload;  // AMF0 (an AMF3 command's format byte removed)
  };

  explicit AppBridge(RtmpSession& session);
  ~AppBridge();

  /// Whether the session's app defines `hook` (for AppHook::call: `method`). Checked at each
  /// control point, so that an app without a script costs nothing.
  bool has_hook(AppHook hook, std::string_view method = {}) const noexcept;
  /// Asks the application; `then` runs on this group with its verdict, unless the connection
  /// closed meanwhile. Until then the client's commands queue (queue()); reading goes on, for the
  /// hook may wait for the client's answer to a client:call.
  void ask(AppRequest request, std::function<void(AppVerdict)> then);
  /// Tells the application (no verdict), if it defines `hook`; an undefined `arg` is not passed.
  void notify(AppHook hook, Value arg);
  /// Applies an accepting verdict's values and lifetime to the connection.
  void apply(const AppVerdict& verdict);
  /// Answers a publish or play the application refused: its code and description, else the defaults.
  void refuse(std::uint32_t stream_id, const AppVerdict& verdict, std::string_view what, std::string_view name,
              std::string_view default_code, std::string default_description);
  /// Runs on_update every update_interval for the connection's life (after an accepted connect).
  void start_updates();
  /// A stream as hooks get it: {name, app, args} from "name?query".
  Value stream_value(std::string_view name_with_query) const;

  /// True while a verdict that holds the client's commands is awaited.
  bool is_waiting() const noexcept { return waiting_; }
  /// Keeps a command for after the verdict; Errc::limit when too many or too large wait.
  Status queue(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);
  /// The oldest queued command, if any.
  std::optional<QueuedCommand> take_queued();
  /// Forgets the queued commands (a refused connect: what follows it is not for us).
  void drop_queued() noexcept;

  /// Calls a method on the client (the application's client:call); `done` gets its `_result` or
  /// `_error`, on this group, never inside this call.
  void call_client(std::string_view name, std::vector<Value> args, std::function<void(Result<Value>)> done);
  /// The client's `_result` or `_error` to a call_client() transaction (others are ignored).
  void on_client_answer(bool is_error, double transaction, const std::vector<formats::amf::Value>& args);

  /// The connection closed: timers stop, queued commands go, pending calls fail (after this call
  /// stack). The client stays attached, so that the closing hooks can still be told.
  void on_close();
  /// Cuts the application's AppClient from the session: from now on its calls do nothing.
  void detach() noexcept;

 private:
  std::shared_ptr<RtmpAppClient> app_client();
  void schedule_update();

  RtmpSession& session_;
  std::shared_ptr<RtmpAppClient> app_client_;  // made at the first hook; outlives us if the app keeps it
  bool waiting_ = false;
  std::deque<QueuedCommand> queued_;
  std::size_t queued_bytes_ = 0;
  std::unique_ptr<Timer> lifetime_timer_;
  std::unique_ptr<Timer> update_timer_;
  bool update_running_ = false;
  double next_call_transaction_ = 1;
  std::map<double, std::function<void(Result<Value>)>> pending_calls_;  // client:call awaiting an answer
};

}  // namespace weir::rtmp
