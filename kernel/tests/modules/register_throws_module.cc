// SPDX-License-Identifier: Apache-2.0
// mod_test_register_throws: registration throws; WEIR_MODULE's guard turns it into an error.
#include <stdexcept>

#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar&) { throw std::runtime_error("boom"); }
}  // namespace

WEIR_MODULE("mod_test_register_throws", "0.0.1", "", register_module)
