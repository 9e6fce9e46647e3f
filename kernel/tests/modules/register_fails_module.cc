// SPDX-License-Identifier: Apache-2.0
// mod_test_register_fails: registration returns an error.
#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar&) {
  return weir::error(weir::Errc::config, "test_fail: refused on purpose");
}
}  // namespace

WEIR_MODULE("mod_test_register_fails", "0.0.1", "", register_module)
