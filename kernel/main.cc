// SPDX-License-Identifier: Apache-2.0
// weir: the executable. It links the kernel and no module; modules are loaded from their own
// libraries (.so files) as the config says.
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "modules/module_loader.h"
#include "server/server.h"

namespace {

constexpr const char* kUsage = R"(usage: weir [options]
  -c, --config FILE       configuration file (INI; see etc/weir.conf)
  --set SECTION.KEY=VALUE override one config key for this run (repeatable)
  --check-config          validate the config and the modules it enables, then exit
  --list-modules          list the modules found in the module directory
  --version               print the version and module API
  -h, --help              this text
)";

int list_modules(const weir::kernel::ServerOptions& options) {
  std::filesystem::path dir = weir::kernel::default_module_dir();
  auto config = weir::kernel::Config::load(options.config_path, options.overrides);
  if (!config) {
    std::cerr << "weir: " << config.error().message() << "\n";
    return 1;
  }
  auto configured = (*config)->view("server").get_string("module_dir", "");
  if (configured && !configured->empty()) dir = *configured;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  if (ec) {
    std::cerr << "weir: module directory " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  std::sort(files.begin(), files.end());
  std::cout << "modules in " << dir.string() << ":\n";
  weir::kernel::ModuleLoader loader;
  for (const auto& file : files) {
    auto module = loader.load(file);
    if (module)
      std::cout << "  " << module->descriptor->name << " " << module->descriptor->version << " (section ["
                << module->descriptor->config_section << "])\n";
    else
      std::cout << "  " << file.filename().string() << ": " << module.error().message() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  weir::kernel::ServerOptions options;
  bool check_only = false, list = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "weir: " << arg << " needs " << what << "\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-c" || arg == "--config") options.config_path = value("a file");
    else if (arg.rfind("--config=", 0) == 0) options.config_path = arg.substr(9);
    else if (arg == "--set") options.overrides.push_back(value("SECTION.KEY=VALUE"));
    else if (arg.rfind("--set=", 0) == 0) options.overrides.push_back(arg.substr(6));
    else if (arg == "--check-config") check_only = true;
    else if (arg == "--list-modules") list = true;
    else if (arg == "--version") {
      std::cout << "weir " << WEIR_VERSION << " (module API " << weir::kModuleAbiVersion << ", " << WEIR_ABI_SIGNATURE
                << ")\n";
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "weir: unknown option '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  if (list) return list_modules(options);

  // Signals are handled by the main loop (asio::signal_set); a peer that closes mid-write must
  // not kill the process (we also pass MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  weir::kernel::Server server(options);
  weir::Status status = server.prepare();
  if (!status) {
    std::cerr << "weir: " << status.message() << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << "weir: configuration " << (options.config_path.empty() ? "(defaults)" : options.config_path)
              << " is valid; modules:";
    for (const auto& module : server.modules()) std::cout << " " << module.name;
    std::cout << "\n";
    return 0;
  }
  return server.run();
}
