// SPDX-License-Identifier: Apache-2.0
// mod_test_echo: a listener ([test_echo] listen, default 127.0.0.1:0) that echoes what it receives,
// and logs its group start/stop and reload hooks.
// Built a second time as mod_test_misnamed, declaring a name that is not its file's.
#include <memory>

#include "weir/connection.h"
#include "weir/module.h"

#ifndef TEST_MODULE_NAME
#define TEST_MODULE_NAME "mod_test_echo"
#endif

namespace {

class EchoHandler final : public weir::ConnectionHandler {
 public:
  explicit EchoHandler(weir::Connection& connection) : connection_(connection) {}
  weir::Status on_data(const weir::PageSlice& data) noexcept override {
    connection_.send(data);
    return weir::ok();
  }

 private:
  weir::Connection& connection_;
};

class EchoAcceptor final : public weir::Acceptor {
 public:
  std::unique_ptr<weir::ConnectionHandler> accept(weir::Connection& connection) noexcept override {
    return std::make_unique<EchoHandler>(connection);
  }
};

weir::Status register_module(weir::Registrar& registrar) {
  auto address = registrar.config().get_string("listen", "127.0.0.1:0");
  if (!address) return address.error();
  WEIR_TRY(registrar.listen(weir::ListenerSpec{"test_echo", *address, false, {}}, std::make_shared<EchoAcceptor>()));
  weir::Logger logger = registrar.logger("test_echo");
  logger.info("echo listening on {}", registrar.bound_address("test_echo").value_or("?"));
  // Hooks the signal tests look for in the log.
  registrar.on_group_start([logger](weir::PollGroup& group) { logger.info("group {} started", group.id()); });
  registrar.on_group_stop([logger](weir::PollGroup& group) { logger.info("group {} stopped", group.id()); });
  registrar.on_reload([logger] { logger.info("reload hook ran"); });
  return weir::ok();
}

}  // namespace

WEIR_MODULE(TEST_MODULE_NAME, "0.0.1", "test_echo", register_module)
