// SPDX-License-Identifier: Apache-2.0
#pragma once
// Loads module libraries (.so) with Boost.DLL and checks them before any call beyond the entry
// point: the API version and the ABI signature must match the server's. Every failure names the
// file and the reason. A loaded module is never unloaded, not even at exit (RTLD_NODELETE).

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "weir/module.h"
#include "weir/status.h"

namespace weir::kernel {

struct LoadedModule {
  std::filesystem::path path;
  const ModuleDescriptor* descriptor = nullptr;
};

class ModuleLoader {
 public:
  /// Loads `path` and validates its descriptor (does not register it).
  Result<LoadedModule> load(const std::filesystem::path& path);
  /// The file a module name stands for: `dir`/`name`.so.
  static std::filesystem::path file_for(const std::filesystem::path& dir, const std::string& name);

 private:
  // Kept for the life of the process: code from these libraries may run until exit.
  std::vector<boost::dll::shared_library> libraries_;
};

/// The default module directory: ../lib/weir/modules beside the executable (build tree and
/// install prefix share this layout), else the configured install path.
std::filesystem::path default_module_dir();

}  // namespace weir::kernel
