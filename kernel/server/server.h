// SPDX-License-Identifier: Apache-2.0
#pragma once
// Server: startup and shutdown in one place, mirrored.
//   start: config -> log -> worker pool, groups (not running) -> modules register (listeners bind)
//          -> unknown keys checked -> groups start -> listeners accept
//   stop (SIGINT/SIGTERM): listeners close -> each group closes its connections and runs the
//          modules' stop hooks -> groups join (bounded by shutdown_timeout) -> exit 0
//   SIGHUP: the config file is read again; the log level and the modules' reload hooks apply it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "log/log_sink.h"
#include "modules/module_loader.h"
#include "net/listener.h"
#include "poll_group/poll_group.h"
#include "stats/stats.h"
#include "shared_objects/shared_objects.h"
#include "stream/registry.h"
#include "stream/streams.h"
#include "workers/worker_pool.h"

namespace weir::kernel {

class RegistrarImpl;

struct ServerOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // --set section.key=value
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  /// Everything up to serving: config, modules, listeners. Fails with a message naming the place.
  Status prepare();
  /// Starts the groups and listeners, then serves until a stop signal; returns the exit status.
  int run();
  /// Asks a running server to stop (as SIGTERM does). Any thread.
  void request_stop();

  const Config& config() const { return *config_; }
  Groups& groups() { return *groups_; }
  /// The bound address of a listener by name (tests bind port 0).
  Result<std::string> bound_address(std::string_view listener) const;
  struct ModuleInfo {
    std::string name, version, path;
  };
  const std::vector<ModuleInfo>& modules() const noexcept { return module_infos_; }

 private:
  friend class RegistrarImpl;
  Status read_settings();
  Status load_modules();
  void on_signal(int signal);
  void reload();
  void stop();

  ServerOptions options_;
  ModuleLoader loader_;  // first member: destroyed last, after everything that may call into modules
  LogSinkImpl log_;
  Logger logger_;
  std::shared_ptr<Config> config_;

  GroupSettings group_settings_;
  StreamSettings stream_settings_;
  SharedObjectSettings shared_object_settings_;
  GroupId threads_ = 1;
  unsigned workers_count_ = 2;
  std::chrono::milliseconds shutdown_timeout_{5000};

  boost::asio::io_context main_io_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<Groups> groups_;
  std::unique_ptr<StreamRegistry> stream_registry_;
  std::unique_ptr<SharedObjectRegistry> shared_object_registry_;
  StatsRegistry stats_registry_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<RegistrarImpl>> registrars_;
  std::map<std::string, std::shared_ptr<Service>, std::less<>> services_;
  std::vector<ModuleInfo> module_infos_;
  std::vector<std::function<void(PollGroup&)>> group_start_hooks_;
  std::vector<std::function<void(PollGroup&)>> group_stop_hooks_;
  std::vector<std::function<void()>> reload_hooks_;
  std::vector<Registrar::StreamDemand> stream_demand_hooks_;        // Registrar::on_stream_demand
  std::vector<Registrar::StreamPublished> stream_published_hooks_;  // Registrar::on_stream_published
  std::optional<boost::asio::signal_set> signals_;
  bool stopping_ = false;
};

}  // namespace weir::kernel
