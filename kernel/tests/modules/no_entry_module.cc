// SPDX-License-Identifier: Apache-2.0
// mod_test_no_entry: a shared object that exports something, but not weir_module_v1.
extern "C" __attribute__((visibility("default"))) int weir_module_v0() noexcept { return 0; }
