// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The module entry point. A module is a shared library exporting one C symbol,
/// weir_module_v<N> (N = kModuleAbiVersion, so weir_module_v4), that returns its descriptor. Before any other call the kernel checks abi_version and
/// abi_signature and refuses a mismatch, naming the file and both signatures.
///
///   WEIR_MODULE("mod_hello", "0.1.0", "hello", hello::register_module)
///
/// Rules of the boundary: only weir/ types cross; nothing throws across (the macro turns an
/// exception from registration into an error); a module is never unloaded from a running process.

#include <cstdint>
#include <exception>

#include "weir/registrar.h"
#include "weir/status.h"

namespace weir {

/// Bumped on any change to module_api/ other than an addition: module_api/abi_test.cc compares
/// the headers' declarations and the layouts of by-value types with module_api/abi.lock and
/// fails until a change is recorded as an addition or the version is bumped. The entry point's
/// name carries the version, so a module built for another one is named as such.
/// 2: MediaFrame, StreamStats and AppVerdict grew; Service::service_type().
/// 3: Connection::send takes a SendUrgency (audio rides with the next video frame).
#define WEIR_MODULE_ABI_VERSION 4
inline constexpr std::uint32_t kModuleAbiVersion = WEIR_MODULE_ABI_VERSION;
#define WEIR_ABI_CONCAT_(a, b) a##b
#define WEIR_ABI_CONCAT(a, b) WEIR_ABI_CONCAT_(a, b)
/// The entry point's symbol: weir_module_v4.
#define WEIR_MODULE_ENTRY WEIR_ABI_CONCAT(weir_module_v, WEIR_MODULE_ABI_VERSION)

#define WEIR_ABI_STRINGIFY_(x) #x
#define WEIR_ABI_STRINGIFY(x) WEIR_ABI_STRINGIFY_(x)
#if defined(__clang__)
#define WEIR_ABI_COMPILER "clang-" WEIR_ABI_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define WEIR_ABI_COMPILER "gcc-" WEIR_ABI_STRINGIFY(__GNUC__)
#else
#define WEIR_ABI_COMPILER "unknown"
#endif
#if defined(NDEBUG)
#define WEIR_ABI_NDEBUG "ndebug=1"
#else
#define WEIR_ABI_NDEBUG "ndebug=0"
#endif
/// What must match between the kernel and a module beyond the version: the compiler family, the
/// libstdc++ string ABI, and NDEBUG (it changes the layout of debug-only members).
#define WEIR_ABI_SIGNATURE \
  WEIR_ABI_COMPILER ";cxx11abi=" WEIR_ABI_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) ";" WEIR_ABI_NDEBUG

/// What the entry point returns.
struct ModuleDescriptor {
  std::uint32_t abi_version;
  const char* abi_signature;
  const char* name;            ///< "mod_rtmp"
  const char* version;         ///< the module's own version, "0.1.0"
  const char* config_section;  ///< its section in weir.conf ("rtmp"), or "" for none
  Status (*register_module)(Registrar& registrar) noexcept;
};

/// Runs a registration function, turning an escaping exception into an error.
template <Status (*Fn)(Registrar&)>
Status register_guarded(Registrar& registrar) noexcept {
  try {
    return Fn(registrar);
  } catch (const std::exception& e) {
    return error(Errc::internal, "registration threw: {}", e.what());
  } catch (...) {
    return error(Errc::internal, "registration threw a non-standard exception");
  }
}

}  // namespace weir

/// Defines the module's entry point. `fn` is `weir::Status fn(weir::Registrar&)`.
#define WEIR_MODULE(name, version, section, fn)                                          \
  extern "C" __attribute__((visibility("default"))) const ::weir::ModuleDescriptor*      \
  WEIR_MODULE_ENTRY() noexcept {                                                         \
    static const ::weir::ModuleDescriptor descriptor{                                    \
        ::weir::kModuleAbiVersion, WEIR_ABI_SIGNATURE, name, version, section,           \
        &::weir::register_guarded<fn>};                                                  \
    return &descriptor;                                                                  \
  }
