// SPDX-License-Identifier: Apache-2.0
#include "app_bridge.h"

#include "app_values.h"
#include "session.h"

namespace weir::rtmp {
namespace amf = formats::amf;

namespace {
// Clients send a few commands ahead (createStream, publish); one that floods the server while an
// application decides is not one to wait for.
constexpr std::size_t kMaxQueuedCommands = 64;
constexpr std::size_t kMaxQueuedBytes = 256 << 10;
}  // namespace

// The session as the application sees it (weir/services/apps.h). The application may hold it past the
// connection: AppBridge::detach() cuts the link and the calls do nothing from then on.
class RtmpAppClient final : public AppClient {
 public:
  RtmpAppClient(RtmpSession& session, std::string app)
      : session_(&session),
        id_(session.connection().id()),
        group_(session.connection().group()),
        address_(session.connection().peer_address()),
        app_(std::move(app)) {}
  ConnectionId id() const noexcept override { return id_; }
  PollGroup& group() noexcept override { return group_; }
  std::string_view protocol() const noexcept override { return "rtmp"; }
  std::string_view app() const noexcept override { return app_; }
  std::string_view address() const noexcept override { return address_; }
  bool is_open() const noexcept override { return session_ != nullptr; }
  void call(std::string_view name, std::vector<Value> args, std::function<void(Result<Value>)> done) noexcept override {
    if (session_) {
      session_->app_bridge().call_client(name, std::move(args), std::move(done));
    } else if (done) {
      group_.defer([done = std::move(done)] { done(Status(Errc::closed, "the client has disconnected")); });
    }
  }
  void close(std::string_view reason) noexcept override {
    if (session_) session_->connection().close(error(Errc::denied, "closed by the application: {}", reason));
  }
  Value& values() noexcept override { return values_; }

  RtmpSession* session() const noexcept { return session_; }
  void detach() noexcept { session_ = nullptr; }

 private:
  RtmpSession* session_;
  ConnectionId id_;
  PollGroup& group_;
  std::string address_;
  std::string app_;
  Value values_ = Value::object();
};

AppBridge::AppBridge(RtmpSession& session) : session_(session) {}

AppBridge::~AppBridge() = default;

bool AppBridge::has_hook(AppHook hook, std::string_view method) const noexcept {
  return session_.group().has_hook(session_.app(), hook, method);
}

std::shared_ptr<RtmpAppClient> AppBridge::app_client() {
  if (!app_client_) app_client_ = std::make_shared<RtmpAppClient>(session_, session_.app());
  return app_client_;
}

void AppBridge::ask(AppRequest request, std::function<void(AppVerdict)> then) {
  waiting_ = true;
  std::weak_ptr<RtmpAppClient> weak = app_client();
  session_.group().apps().request(app_client(), std::move(request), [weak, then = std::move(then)](AppVerdict verdict) {
    auto client = weak.lock();
    if (!client || !client->session()) return;  // the connection closed while the application decided
    RtmpSession& session = *client->session();
    session.app_bridge().waiting_ = false;
    then(std::move(verdict));
    session.resume_commands();
  });
}

Status AppBridge::queue(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload) {
  if (queued_.size() >= kMaxQueuedCommands || queued_bytes_ + payload.size() > kMaxQueuedBytes)
    return error(Errc::limit, "more than {} commands or {} bytes queued behind an application's hook",
                 kMaxQueuedCommands, kMaxQueuedBytes);
  queued_bytes_ += payload.size();
  queued_.push_back(QueuedCommand{header, std::vector<std::uint8_t>(payload.begin(), payload.end())});
  return ok();
}

std::optional<AppBridge::QueuedCommand> AppBridge::take_queued() {
  if (queued_.empty()) return std::nullopt;
  QueuedCommand command = std::move(queued_.front());
  queued_.pop_front();
  queued_bytes_ -= command.payload.size();
  return command;
}

void AppBridge::drop_queued() noexcept {
  queued_.clear();
  queued_bytes_ = 0;
}

void AppBridge::notify(AppHook hook, Value arg) {
  if (!has_hook(hook)) return;
  std::vector<Value> args;
  if (!arg.is_undefined()) args.push_back(std::move(arg));
  session_.group().apps().request(app_client(), AppRequest{hook, {}, std::move(args)}, nullptr);
}

void AppBridge::refuse(std::uint32_t stream_id, const AppVerdict& verdict, std::string_view what,
                       std::string_view name, std::string_view default_code, std::string default_description) {
  std::string description = verdict.kind == AppVerdict::Kind::redirect ? "Redirected to " + verdict.redirect_url
                            : verdict.description.empty()                ? std::move(default_description)
                                                                         : verdict.description;
  std::string_view code = verdict.code.empty() ? default_code : std::string_view(verdict.code);
  session_.logger().info("conn={} {} {}/{} rejected by the application: {} ({})", session_.connection().id(), what,
                         session_.app(), name, description, code);
  session_.messages().send_status(stream_id, "error", code, description);
}

void AppBridge::apply(const AppVerdict& verdict) {
  if (!verdict.values.empty()) {
    Value& values = app_client()->values();
    for (const auto& [key, value] : verdict.values) values.set(key, value);
  }
  if (verdict.lifetime.count() > 0) {
    auto lifetime = verdict.lifetime;
    lifetime_timer_ = session_.group().poll_group().after(lifetime, [this, lifetime] {
      session_.connection().close(error(Errc::denied, "the application's lifetime of {} ms ended", lifetime.count()));
    });
  }
}

void AppBridge::start_updates() { schedule_update(); }

void AppBridge::schedule_update() {
  update_timer_ = session_.group().poll_group().after(session_.group().apps().update_interval(), [this] {
    schedule_update();
    if (update_running_) return;  // a slow on_update is not stacked
    update_running_ = true;
    // Not through ask(): an update runs beside the client's commands, it does not hold them.
    std::weak_ptr<RtmpAppClient> weak = app_client();
    session_.group().apps().request(app_client(), AppRequest{AppHook::update, {}, {}}, [weak](AppVerdict verdict) {
      auto client = weak.lock();
      if (!client || !client->session()) return;
      RtmpSession& session = *client->session();
      AppBridge& bridge = session.app_bridge();
      bridge.update_running_ = false;
      if (verdict.kind == AppVerdict::Kind::accept) {
        bridge.apply(verdict);
        return;
      }
      session.connection().close(error(Errc::denied, "disconnected by the application's on_update: {}",
                                       verdict.description.empty() ? "refused" : verdict.description));
    });
  });
}

Value AppBridge::stream_value(std::string_view name_with_query) const {
  return Value::object({{"name", std::string(strip_query(name_with_query))},
                        {"app", session_.app()},
                        {"args", parse_query(query_of(name_with_query))}});
}

void AppBridge::call_client(std::string_view name, std::vector<Value> args, std::function<void(Result<Value>)> done) {
  double transaction = done ? next_call_transaction_++ : 0;
  std::vector<amf::Value> values{amf::Value(name), amf::Value(transaction), amf::Value::null()};
  for (const Value& arg : args) values.push_back(to_amf(arg));
  session_.messages().send_command(0, values);
  if (done) pending_calls_.emplace(transaction, std::move(done));
}

void AppBridge::on_client_answer(bool is_error, double transaction, const std::vector<amf::Value>& args) {
  auto it = pending_calls_.find(transaction);
  if (it == pending_calls_.end()) return;  // an answer to nothing we asked: ignored
  auto done = std::move(it->second);
  pending_calls_.erase(it);
  Result<Value> answer = args.empty() ? Result<Value>(Value()) : Result<Value>(to_app_value(args[0]));
  if (is_error) {
    const amf::Value* description = args.empty() ? nullptr : args[0].find("description");
    answer = error(Errc::denied, "the client answered with an error: {}",
                   description ? description->as_string() : std::string_view("(no description)"));
  }
  session_.group().poll_group().defer([done = std::move(done), answer = std::move(answer)] { done(answer); });
}

void AppBridge::on_close() {
  lifetime_timer_.reset();
  update_timer_.reset();
  drop_queued();
  for (auto& [transaction, done] : pending_calls_)
    session_.group().poll_group().defer([done = std::move(done)] { done(Status(Errc::closed, "the client disconnected")); });
  pending_calls_.clear();
}

void AppBridge::detach() noexcept {
  if (app_client_) app_client_->detach();
}

}  // namespace weir::rtmp
