// SPDX-License-Identifier: Apache-2.0
#include "modules/module_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>

namespace weir::kernel {

std::filesystem::path ModuleLoader::file_for(const std::filesystem::path& dir, const std::string& name) {
  return dir / (name + ".so");
}

Result<LoadedModule> ModuleLoader::load(const std::filesystem::path& path) {
  std::string where = "module " + path.string();
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error))
    return error(Errc::not_found, "{}: no such file", where);
  boost::dll::shared_library library;
  boost::dll::fs::error_code ec;
  // rtld_now: an unresolved symbol fails here, with the linker's message, not later mid-stream.
  library.load(boost::dll::fs::path(path.string()), ec,
               boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec) {
    // Boost.DLL clears dlerror(); ask the dynamic linker once more for its own words.
    std::string reason = ec.message();
    if (void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) ::dlclose(handle);
    else if (const char* text = ::dlerror()) reason = text;
    return error(Errc::config, "{}: cannot load: {}", where, reason);
  }
  const std::string entry_name = "weir_module_v" + std::to_string(kModuleAbiVersion);
  if (!library.has(entry_name)) {
    // A module of another API version exports another name: say which, rather than "not a module".
    for (std::uint32_t v = 1; v < kModuleAbiVersion + 8; ++v)
      if (v != kModuleAbiVersion && library.has("weir_module_v" + std::to_string(v)))
        return error(Errc::config, "{}: built for module API version {} (entry point weir_module_v{}), this server has "
                     "version {}: rebuild it against this server's SDK", where, v, v, kModuleAbiVersion);
    return error(Errc::config, "{}: no entry point {} (not a Weir module)", where, entry_name);
  }
  using Entry = const ModuleDescriptor*() noexcept;
  auto& entry = library.get<Entry>(entry_name);
  const ModuleDescriptor* descriptor = entry();
  if (!descriptor) return error(Errc::config, "{}: {} returned no descriptor", where, entry_name);
  if (descriptor->abi_version != kModuleAbiVersion)
    return error(Errc::config, "{}: built for module API version {}, this server has version {}", where,
                 descriptor->abi_version, kModuleAbiVersion);
  if (!descriptor->abi_signature || std::strcmp(descriptor->abi_signature, WEIR_ABI_SIGNATURE) != 0)
    return error(Errc::config, "{}: ABI signature '{}' differs from the server's '{}' (rebuild the module)", where,
                 descriptor->abi_signature ? descriptor->abi_signature : "(none)", WEIR_ABI_SIGNATURE);
  if (!descriptor->name || !descriptor->register_module)
    return error(Errc::config, "{}: descriptor lacks a name or a registration function", where);
  // Pinned (RTLD_NODELETE) so that destroying the loader at the end of main() unloads nothing:
  // modules hold each other's code (mod_http's routes, mod_lua's functions are std::functions of
  // mod_stats), and some cannot be unloaded at all (GNU unique symbols), so their statics run at
  // exit; were mod_stats unmapped by then, destroying its handlers would jump into nothing.
  // Pinned, every module stays mapped until the process ends and statics go in reverse order.
  if (!::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD | RTLD_NODELETE))
    return error(Errc::internal, "{}: cannot pin the loaded library: {}", where, ::dlerror());
  libraries_.push_back(std::move(library));
  return LoadedModule{path, descriptor};
}

std::filesystem::path default_module_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = exe.parent_path().parent_path() / "lib" / "weir" / "modules";
    if (std::filesystem::is_directory(beside, ec)) return beside;
  }
  return WEIR_INSTALL_MODULE_DIR;
}

}  // namespace weir::kernel
