// SPDX-License-Identifier: Apache-2.0
// mod_hello: the smallest useful module. It opens a listener from its [hello] section, greets each
// client, and echoes every byte back without copying it (the received slice is queued as is).
// The greeting line also carries the greeting as an AMF0 string in hex, written with the SDK's
// formats/amf: an out-of-tree protocol module gets the same parsers and writers as mod_rtmp.
//
//   [server]
//   modules = mod_hello
//   [hello]
//   listen = 127.0.0.1:7070
//   greeting = hello from weir
#include <memory>
#include <string>
#include <vector>

#include "formats/amf/amf0.h"
#include "weir/module.h"
#include "weir/per_group.h"

namespace hello {

// Per poll group: counts this group's clients. No locks: each group has its own.
struct HelloWorker {
  explicit HelloWorker(weir::PollGroup& group) : group(group) {}
  weir::PollGroup& group;
  std::uint64_t clients = 0;
};

// "hi" -> "02000268 69": AMF0's string marker, a 16-bit length, the bytes.
std::string amf0_hex(const std::string& text) {
  std::vector<std::uint8_t> bytes;
  weir::formats::amf::Amf0Writer writer(bytes);
  if (!writer.write_string(text)) return "error";
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::uint8_t b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

struct Settings {
  std::string greeting;
  std::string greeting_amf0_hex;
  weir::CounterId echoed_bytes = 0;
};

weir::PerGroup<HelloWorker> g_workers;  // module-level: outlives the server, as PerGroup requires
Settings g_settings;

class HelloConnection final : public weir::ConnectionHandler {
 public:
  explicit HelloConnection(weir::Connection& connection) : connection_(connection) {
    std::string line = g_settings.greeting + " (conn " + std::to_string(connection.id()) + ") amf0=" +
                       g_settings.greeting_amf0_hex + "\n";
    connection_.send_copy({reinterpret_cast<const std::uint8_t*>(line.data()), line.size()});
  }
  weir::Status on_data(const weir::PageSlice& data) noexcept override {
    connection_.group().stats().add(g_settings.echoed_bytes, data.length);
    connection_.send(data);  // shares the receive page: no copy
    return weir::ok();
  }

 private:
  weir::Connection& connection_;
};

class HelloAcceptor final : public weir::Acceptor {
 public:
  std::unique_ptr<weir::ConnectionHandler> accept(weir::Connection& connection) noexcept override {
    ++g_workers.local(connection.group()).clients;
    return std::make_unique<HelloConnection>(connection);
  }
};

weir::Status register_module(weir::Registrar& registrar) {
  const weir::ConfigView& config = registrar.config();
  auto listen = config.get_string("listen", "127.0.0.1:7070");
  if (!listen) return listen.error();
  auto greeting = config.get_string("greeting", "hello from weir");
  if (!greeting) return greeting.error();
  g_settings.greeting = *greeting;
  g_settings.greeting_amf0_hex = amf0_hex(*greeting);
  g_settings.echoed_bytes = registrar.counter("weir_hello_echoed_bytes_total", "Bytes echoed by mod_hello");
  registrar.gauge("weir_hello_clients_total", "Clients greeted by mod_hello",
                  [](weir::PollGroup& group) { return static_cast<double>(g_workers.local(group).clients); });
  g_workers.install(registrar);
  return registrar.listen(weir::ListenerSpec{"hello", *listen, false, {}}, std::make_shared<HelloAcceptor>());
}

}  // namespace hello

WEIR_MODULE("mod_hello", "0.1.0", "hello", hello::register_module)
