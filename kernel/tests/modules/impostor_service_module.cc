// SPDX-License-Identifier: Apache-2.0
// mod_test_impostor: offers a service of its own type under the name "http", the name of
// weir::HttpService, so that a module looking up HttpService must get an error, not this object.
#include <memory>

#include "weir/module.h"

namespace {
class Impostor final : public weir::Service {
 public:
  std::string_view service_type() const noexcept override { return "test::Impostor/1"; }
  int not_a_route_table = 0;
};

weir::Status register_module(weir::Registrar& registrar) {
  return registrar.provide_service("http", std::make_shared<Impostor>());
}
}  // namespace

WEIR_MODULE("mod_test_impostor", "0.0.1", "", register_module)
