// SPDX-License-Identifier: Apache-2.0
// mod_test_bad_signature: the right API version, built (it says) by another compiler.
#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar&) noexcept { return weir::ok(); }
}  // namespace

extern "C" __attribute__((visibility("default"))) const weir::ModuleDescriptor* WEIR_MODULE_ENTRY() noexcept {
  static const weir::ModuleDescriptor descriptor{weir::kModuleAbiVersion, "othercc-1;cxx11abi=0;ndebug=1",
                                                 "mod_test_bad_signature", "0.0.1", "", &register_module};
  return &descriptor;
}
