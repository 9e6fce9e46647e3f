// SPDX-License-Identifier: Apache-2.0
// mod_test_bad_abi: a descriptor written by hand with the next module API version.
#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar&) noexcept { return weir::ok(); }
}  // namespace

extern "C" __attribute__((visibility("default"))) const weir::ModuleDescriptor* WEIR_MODULE_ENTRY() noexcept {
  static const weir::ModuleDescriptor descriptor{weir::kModuleAbiVersion + 1, WEIR_ABI_SIGNATURE, "mod_test_bad_abi",
                                                 "0.0.1", "", &register_module};
  return &descriptor;
}
