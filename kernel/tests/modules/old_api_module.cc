// SPDX-License-Identifier: Apache-2.0
// mod_test_old_api: a module as module API version 1 built it, exporting weir_module_v1.
#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar&) noexcept { return weir::ok(); }
}  // namespace

extern "C" __attribute__((visibility("default"))) const weir::ModuleDescriptor* weir_module_v1() noexcept {
  static const weir::ModuleDescriptor descriptor{1, WEIR_ABI_SIGNATURE, "mod_test_old_api", "0.0.1", "",
                                                 &register_module};
  return &descriptor;
}
