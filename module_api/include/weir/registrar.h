// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Registrar: what a module may register. A module registers everything once, in its
/// registration function, on the main thread before the poll groups start; nothing registers later.

#include <functional>
#include <memory>
#include <string_view>

#include "weir/config.h"
#include "weir/connection.h"
#include "weir/log.h"
#include "weir/poll_group.h"
#include "weir/stats.h"
#include "weir/status.h"

namespace weir {

class Registrar {
 public:
  /// The module's name ("mod_rtmp").
  virtual std::string_view module_name() const noexcept = 0;
  /// This module's config section (named in its descriptor); empty if absent from the file.
  virtual const ConfigView& config() const noexcept = 0;
  /// Another section, read-only (e.g. "server"); keys read here count as used.
  virtual const ConfigView& config(std::string_view section) const noexcept = 0;
  /// A logger tagged `tag` ("rtmp", "rtmp.handshake").
  virtual Logger logger(std::string_view tag) const = 0;
  /// How many poll groups will run (for PerGroup<T>).
  virtual GroupId group_count() const noexcept = 0;

  /// Opens a listener (bound now, so a taken port fails startup); each accepted connection is
  /// placed on one poll group and handed to `acceptor` there.
  virtual Status listen(const ListenerSpec& spec, std::shared_ptr<Acceptor> acceptor) noexcept = 0;
  /// The bound address of a listener opened by this module ("127.0.0.1:41235"), by name.
  virtual Result<std::string> bound_address(std::string_view listener_name) const = 0;

  /// Called on each poll group's thread when it starts, before it serves connections.
  virtual void on_group_start(std::function<void(PollGroup&)> fn) = 0;
  /// Called on each poll group's thread when it stops, after its connections closed.
  virtual void on_group_stop(std::function<void(PollGroup&)> fn) = 0;
  /// Called on the main thread after SIGHUP re-read the config (module state is the module's to
  /// update by posting to its groups).
  virtual void on_reload(std::function<void()> fn) = 0;

  /// A per-group counter, summed when read.
  virtual CounterId counter(std::string_view name, std::string_view help) = 0;
  /// A gauge read on each group (on that group's thread) and summed.
  virtual void gauge(std::string_view name, std::string_view help,
                     std::function<double(PollGroup&)> read) = 0;

 protected:
  ~Registrar() = default;
};

}  // namespace weir
