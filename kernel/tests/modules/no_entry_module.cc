// SPDX-License-Identifier: Apache-2.0
// mod_test_no_entry: a shared library that exports something, but no weir_module_v<N>.
extern "C" __attribute__((visibility("default"))) int weir_module_v0() noexcept { return 0; }
