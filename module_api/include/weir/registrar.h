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

struct StreamKey;

/// A service one module offers others (the HTTP layer, Lua applications, statistics). Each
/// service interface declares `static constexpr std::string_view kServiceName` (the name it is
/// offered and found by) and `kServiceType` (what it is: namespace, type and interface version),
/// and returns kServiceType from service_type(). A lookup through Registrar::service<T>() checks
/// the type, so a name taken by an unrelated type is an error naming both, never a bad cast.
class Service {
 public:
  virtual ~Service() = default;
  /// The kServiceType of the interface this object implements.
  virtual std::string_view service_type() const noexcept = 0;
};

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

  /// Offers `service` under `name` to modules registered after this one (list the provider first
  /// in [server] modules). Errc::exists if the name is taken. Prefer provide<T>().
  virtual Status provide_service(std::string_view name, std::shared_ptr<Service> service) = 0;
  /// A service offered by a module registered earlier, or null; untyped: use service<T>() or
  /// optional_service<T>(), which check what it is.
  virtual std::shared_ptr<Service> find_service(std::string_view name) const = 0;

  /// Offers `service` under T::kServiceName.
  template <class T>
  Status provide(std::shared_ptr<T> service) {
    return provide_service(T::kServiceName, std::move(service));
  }
  /// The service offered under T::kServiceName, or null when no module offers it; an error
  /// naming both types when the name is taken by a service of another type.
  template <class T>
  Result<std::shared_ptr<T>> optional_service() const {
    std::shared_ptr<Service> found = find_service(T::kServiceName);
    if (!found) return std::shared_ptr<T>();
    if (found->service_type() != T::kServiceType)
      return error(Errc::config, "{} needs the '{}' service as {}, but the module offering it provides {}",
                   module_name(), T::kServiceName, T::kServiceType, found->service_type());
    // The type was checked by its tag: dynamic_cast is unreliable across modules built with
    // hidden visibility (each has its own type_info).
    return std::static_pointer_cast<T>(std::move(found));
  }
  /// optional_service<T>(), with absence an error naming the service.
  template <class T>
  Result<std::shared_ptr<T>> service() const {
    Result<std::shared_ptr<T>> found = optional_service<T>();
    if (found && !*found)
      return error(Errc::not_found, "{} needs the '{}' service: enable a module that provides it before {} in [server] modules",
                   module_name(), T::kServiceName, module_name());
    return found;
  }

  /// A per-group counter, summed when read.
  virtual CounterId counter(std::string_view name, std::string_view help) = 0;
  /// A gauge read on each group (on that group's thread) and summed.
  virtual void gauge(std::string_view name, std::string_view help,
                     std::function<double(PollGroup&)> read) = 0;

  /// Publishing on demand (a camera pulled while someone watches): `fn(group, key, source)` is
  /// called when a subscription to `key` is made on `group` while nobody publishes it (each such
  /// subscribe(), waiting ones included), inside Streams::subscribe(), on that group's thread;
  /// `source` is the subscription's SubscribeOptions::source (a URL an application chose, or
  /// empty). It answers quickly (no blocking, no call back into Streams; post or defer the work)
  /// whether the module will publish `key`: true makes the subscriber wait for a publisher as
  /// with SubscribeOptions::wait_for_publisher, whatever its options said; false leaves the
  /// subscription as it would have been. Every module's function is asked, in registration order.
  /// Added in ABI 3 after gauge(); `source` in ABI 4.
  using StreamDemand = std::function<bool(PollGroup& group, const StreamKey& key, std::string_view source)>;
  virtual void on_stream_demand(StreamDemand fn) = 0;

  /// A stream was published (any protocol, any group): `fn(group, key)` is called on the
  /// publisher's group, in a later step of its loop than the publish (so it may subscribe: a
  /// recorder of every stream of an app). Called for each publish(), a publisher that comes back
  /// within the grace period too (the module knows what it already follows). Added in ABI 4
  /// (appended).
  using StreamPublished = std::function<void(PollGroup& group, const StreamKey& key)>;
  virtual void on_stream_published(StreamPublished fn) = 0;

 protected:
  ~Registrar() = default;
};

}  // namespace weir
