// SPDX-License-Identifier: Apache-2.0
#include "server/server.h"

#include <boost/asio/post.hpp>
#include <csignal>
#include <future>
#include <thread>

#include "net/connection.h"

namespace weir::kernel {

// What one module sees of the server while it registers.
class RegistrarImpl final : public Registrar {
 public:
  RegistrarImpl(Server& server, const ModuleDescriptor& descriptor) : server_(server), descriptor_(descriptor) {}

  std::string_view module_name() const noexcept override { return descriptor_.name; }
  const ConfigView& config() const noexcept override {
    return server_.config_->view(descriptor_.config_section ? descriptor_.config_section : "");
  }
  const ConfigView& config(std::string_view section) const noexcept override { return server_.config_->view(section); }
  Logger logger(std::string_view tag) const override { return Logger(&server_.log_, std::string(tag)); }
  GroupId group_count() const noexcept override { return server_.threads_; }

  Status listen(const ListenerSpec& spec, std::shared_ptr<Acceptor> acceptor) noexcept override {
    std::shared_ptr<TlsContext> tls;
    if (spec.use_tls) {
      auto context = TlsContext::create(spec.tls);
      if (!context) return context.error().with_context("listener " + spec.name);
      tls = std::move(*context);
    }
    if (server_.bound_address(spec.name))
      return error(Errc::exists, "listener {}: a listener with this name exists", spec.name);
    auto listener = Listener::open(server_.main_io_, spec, std::move(acceptor), *server_.groups_,
                                   Logger(&server_.log_, "kernel.listener"), std::move(tls));
    if (!listener) return listener.error();
    server_.stats_registry_.add_listener(spec.name);
    server_.listeners_.push_back(std::move(*listener));
    return ok();
  }
  Result<std::string> bound_address(std::string_view name) const override { return server_.bound_address(name); }

  void on_group_start(std::function<void(PollGroup&)> fn) override { server_.group_start_hooks_.push_back(std::move(fn)); }
  void on_group_stop(std::function<void(PollGroup&)> fn) override { server_.group_stop_hooks_.push_back(std::move(fn)); }
  void on_reload(std::function<void()> fn) override { server_.reload_hooks_.push_back(std::move(fn)); }
  void on_stream_published(StreamPublished fn) override {
    server_.stream_published_hooks_.push_back(std::move(fn));
  }
  void on_stream_demand(StreamDemand fn) override {
    server_.stream_demand_hooks_.push_back(std::move(fn));
  }

  Status provide_service(std::string_view name, std::shared_ptr<Service> service) override {
    auto [it, inserted] = server_.services_.try_emplace(std::string(name), std::move(service));
    if (!inserted) return error(Errc::exists, "service '{}' is already provided", name);
    return ok();
  }
  std::shared_ptr<Service> find_service(std::string_view name) const override {
    auto it = server_.services_.find(name);
    return it == server_.services_.end() ? nullptr : it->second;
  }

  CounterId counter(std::string_view name, std::string_view help) override {
    return server_.stats_registry_.add_counter(std::string(name), std::string(help));
  }
  void gauge(std::string_view name, std::string_view help, std::function<double(PollGroup&)> read) override {
    server_.stats_registry_.add_gauge(std::string(name), std::string(help), std::move(read));
  }

 private:
  Server& server_;
  const ModuleDescriptor& descriptor_;
};

Server::Server(ServerOptions options) : options_(std::move(options)), logger_(&log_, "kernel") {}

Server::~Server() {
  listeners_.clear();
  if (groups_) {
    groups_->join();
    // Blocking jobs still queued (a shared object's last write) finish before the groups go:
    // their replies wait in the groups' inboxes for the final drain instead of reaching freed ones.
    if (workers_) workers_->stop_and_join();
    groups_.reset();
  }
  if (workers_) workers_->stop_and_join();
}

Status Server::read_settings() {
  const ConfigView& server = config_->view("server");
  const ConfigView& log = config_->view("log");
  const ConfigView& pages = config_->view("pages");
  const ConfigView& sender = config_->view("sender");
  const ConfigView& streams = config_->view("streams");

  auto level_text = log.get_string("level", "info");
  auto level = parse_log_level(*level_text);
  if (!level) return log.invalid("level", level.error().message());
  log_.set_level(*level);
  auto log_file = log.get_string("file", "");
  WEIR_TRY(log_.open(*log_file).with_context(log.where("file")));

  auto threads = server.get_int("threads", 0, 0, 1024);
  if (!threads) return threads.error();
  threads_ = *threads > 0 ? static_cast<GroupId>(*threads) : std::max(1u, std::thread::hardware_concurrency());
  auto workers = server.get_int("workers", 2, 1, 256);
  if (!workers) return workers.error();
  workers_count_ = static_cast<unsigned>(*workers);
  auto timeout = server.get_duration("shutdown_timeout", std::chrono::milliseconds(5000));
  if (!timeout) return timeout.error();
  shutdown_timeout_ = *timeout;

  auto page_size = pages.get_bytes("page_size", 64 * 1024);
  if (!page_size) return page_size.error();
  if (*page_size < 4096 || *page_size > (16u << 20)) return pages.invalid("page_size", "must be between 4k and 16m");
  auto max_bytes = pages.get_bytes("max_bytes_per_group", 512ull << 20);
  if (!max_bytes) return max_bytes.error();
  group_settings_.page_size = static_cast<std::uint32_t>(*page_size);
  group_settings_.max_pages = std::max<std::uint64_t>(16, *max_bytes / *page_size);
  auto trim = pages.get_duration("trim_interval", std::chrono::milliseconds(10000));
  if (!trim) return trim.error();
  group_settings_.page_trim_interval = *trim;

  auto soft = sender.get_bytes("soft_limit", 2u << 20);
  if (!soft) return soft.error();
  auto hard = sender.get_bytes("hard_limit", 8u << 20);
  if (!hard) return hard.error();
  if (*hard < *soft) return sender.invalid("hard_limit", "must not be below soft_limit");
  group_settings_.sender_limits = SenderLimits{*soft, *hard};
  auto coalescing = sender.get_duration("coalescing", std::chrono::milliseconds(0));
  if (!coalescing) return coalescing.error();
  group_settings_.coalescing = *coalescing;
  auto hold = sender.get_duration("hold", std::chrono::milliseconds(50));
  if (!hold) return hold.error();
  if (*hold > std::chrono::milliseconds(1000)) return sender.invalid("hold", "must be at most 1s");
  group_settings_.hold = *hold;

  auto grace = streams.get_duration("publisher_grace", std::chrono::milliseconds(5000));
  if (!grace) return grace.error();
  stream_settings_.publisher_grace = *grace;

  const ConfigView& shared = config_->view("shared_objects");
  auto directory = shared.get_string("directory", "/var/lib/weir/shared_objects");
  if (!directory) return directory.error();
  shared_object_settings_.directory = *directory;
  auto max_slots = shared.get_int("max_slots", 1024, 1, 1 << 20);
  if (!max_slots) return max_slots.error();
  shared_object_settings_.max_slots = static_cast<std::uint32_t>(*max_slots);
  auto max_object_bytes = shared.get_bytes("max_object_bytes", 1u << 20);
  if (!max_object_bytes) return max_object_bytes.error();
  if (*max_object_bytes < 1024 || *max_object_bytes > (1ull << 30))
    return shared.invalid("max_object_bytes", "must be between 1k and 1g");
  shared_object_settings_.max_object_bytes = *max_object_bytes;
  auto max_name_bytes = shared.get_int("max_name_bytes", 1024, 1, 65535);
  if (!max_name_bytes) return max_name_bytes.error();
  shared_object_settings_.max_name_bytes = static_cast<std::uint32_t>(*max_name_bytes);
  return ok();
}

Status Server::load_modules() {
  const ConfigView& server = config_->view("server");
  auto names = server.get_list("modules");
  if (!names) return names.error();
  auto optional = server.get_list("optional_modules");
  if (!optional) return optional.error();
  auto dir_text = server.get_string("module_dir", "");
  std::filesystem::path dir = dir_text->empty() ? default_module_dir() : std::filesystem::path(*dir_text);

  auto load_one = [&](const std::string& name) -> Status {
    auto module = loader_.load(ModuleLoader::file_for(dir, name));
    if (!module) return module.error();
    const ModuleDescriptor& descriptor = *module->descriptor;
    if (descriptor.name != name)
      return error(Errc::config, "module {}: the file declares the name '{}'", module->path.string(), descriptor.name);
    auto registrar = std::make_unique<RegistrarImpl>(*this, descriptor);
    Status status = descriptor.register_module(*registrar);
    if (!status) return status.with_context("module " + module->path.string() + ": registration failed");
    registrars_.push_back(std::move(registrar));
    module_infos_.push_back(ModuleInfo{descriptor.name, descriptor.version ? descriptor.version : "", module->path.string()});
    logger_.info("loaded {} {} from {}", descriptor.name, descriptor.version ? descriptor.version : "", module->path.string());
    return ok();
  };
  for (const std::string& name : *names) WEIR_TRY(load_one(name));
  for (const std::string& name : *optional) {
    Status status = load_one(name);
    if (!status) logger_.error("{} (optional module: the server goes on without it)", status.message());
  }
  return ok();
}

Status Server::prepare() {
  auto config = Config::load(options_.config_path, options_.overrides);
  if (!config) return config.error();
  config_ = std::move(*config);
  WEIR_TRY(read_settings());
  workers_ = std::make_unique<WorkerPool>(workers_count_);
  groups_ = std::make_unique<Groups>(group_settings_, threads_, *workers_, log_);
  stream_registry_ = std::make_unique<StreamRegistry>(threads_);
  shared_object_registry_ = std::make_unique<SharedObjectRegistry>(shared_object_settings_);
  WEIR_TRY(load_modules());
  std::vector<Status> unknown = config_->unread_keys();
  if (!unknown.empty()) {
    std::string text = unknown.front().message();
    for (std::size_t i = 1; i < unknown.size(); ++i) text += "\n" + unknown[i].message();
    return Status(Errc::config, text);
  }
  for (const std::string& section : config_->unviewed_sections())
    logger_.warn("{}: section [{}] is not used by the server or any enabled module",
                 config_->view(section).where(""), section);
  return ok();
}

Result<std::string> Server::bound_address(std::string_view name) const {
  for (const auto& listener : listeners_)
    if (listener->name() == name) return listener->bound_address();
  return error(Errc::not_found, "no listener named {}", name);
}

int Server::run() {
  stream_settings_.demand = &stream_demand_hooks_;
  stream_settings_.published = &stream_published_hooks_;
  for (GroupId g = 0; g < threads_; ++g) {
    (*groups_)[g].streams_impl().attach(*stream_registry_, stream_settings_);
    (*groups_)[g].shared_objects_impl().attach(*shared_object_registry_);
  }
  groups_->start([this](PollGroupImpl& group) {
    group.stats_impl().attach(stats_registry_);
    for (auto& hook : group_start_hooks_) hook(group);
  });
  signals_.emplace(main_io_, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [this, &on_signal](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    this->on_signal(signal);
    if (!stopping_) signals_->async_wait(on_signal);
  };
  signals_->async_wait(on_signal);
  for (auto& listener : listeners_) listener->start();
  logger_.info("weir {} serving with {} poll group(s)", WEIR_VERSION, threads_);
  main_io_.run();
  return 0;
}

void Server::request_stop() {
  boost::asio::post(main_io_, [this] { stop(); });
}

void Server::on_signal(int signal) {
  if (signal == SIGHUP) {
    reload();
    return;
  }
  logger_.info("signal {}: shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
}

void Server::reload() {
  auto config = Config::load(options_.config_path, options_.overrides);
  if (!config) {
    logger_.error("reload: {} (keeping the running configuration)", config.error().message());
    return;
  }
  const ConfigView& log = (*config)->view("log");
  auto level = parse_log_level(log.get_string("level", "info").value());
  if (!level) {
    logger_.error("reload: {}: {} (keeping the running configuration)", log.where("level"), level.error().message());
    return;
  }
  log_.set_level(*level);
  config_ = std::move(*config);
  for (auto& hook : reload_hooks_) hook();
  logger_.info("reloaded {} (log level {})", options_.config_path, log_level_name(*level));
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& listener : listeners_) listener->close();
  if (signals_) {
    boost::system::error_code ec;
    signals_->cancel(ec);
  }
  groups_->stop([this](PollGroupImpl& group) {
    group.close_all_connections(Status(Errc::closed, "server shutting down"));
    for (auto& hook : group_stop_hooks_) hook(group);
  });
  // Bounded: a group stuck in a module's code must not keep the process alive past the timeout.
  auto joined = std::async(std::launch::async, [this] { groups_->join(); });
  if (joined.wait_for(shutdown_timeout_) != std::future_status::ready) {
    logger_.error("shutdown: poll groups did not stop within {} ms; exiting anyway", shutdown_timeout_.count());
    std::_Exit(0);
  }
  main_io_.stop();
  logger_.info("stopped");
}

}  // namespace weir::kernel
