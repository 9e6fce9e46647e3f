// SPDX-License-Identifier: Apache-2.0
// Module loading through kernel::Server::prepare(): every refusal names the file and the reason;
// a good module serves; optional modules may fail without stopping the server.
#include <gtest/gtest.h>

#include <future>

#include "modules/module_loader.h"
#include "server/server.h"
#include "test_files.h"
#include "test_net.h"

namespace weir::kernel {
namespace {

using testing::TestClient;

const std::string kModuleDir = WEIR_TEST_MODULE_DIR;

std::string module_file(const std::string& name) { return kModuleDir + "/" + name + ".so"; }

ServerOptions options_with(std::vector<std::string> overrides) {
  ServerOptions options;
  overrides.insert(overrides.begin(), {"server.module_dir=" + kModuleDir, "server.threads=2", "server.workers=1",
                                       "log.level=warn"});
  options.overrides = std::move(overrides);
  return options;
}

Status prepare_with(std::vector<std::string> overrides) {
  Server server(options_with(std::move(overrides)));
  return server.prepare();
}

// Runs a prepared server on a thread of its own; stops it (bounded) when destroyed.
class RunningServer {
 public:
  explicit RunningServer(Server& server) : server_(server) {
    std::packaged_task<int()> task([this] { return server_.run(); });
    exit_code_ = task.get_future();
    thread_ = std::thread(std::move(task));
  }
  ~RunningServer() { stop(); }
  int stop() {
    if (!thread_.joinable()) return code_;
    server_.request_stop();
    if (exit_code_.wait_for(testing::kWaitLimit) != std::future_status::ready) testing::wait_expired("server to stop");
    thread_.join();
    code_ = exit_code_.get();
    return code_;
  }

 private:
  Server& server_;
  std::future<int> exit_code_;
  std::thread thread_;
  int code_ = -1;
};

TEST(ModuleLoading, GoodModuleRegistersAListenerThatEchoes) {
  Server server(options_with({"server.modules=mod_test_echo"}));
  Status status = server.prepare();
  ASSERT_TRUE(status) << status.message();
  ASSERT_EQ(server.modules().size(), 1u);
  EXPECT_EQ(server.modules()[0].name, "mod_test_echo");
  EXPECT_EQ(server.modules()[0].version, "0.0.1");
  EXPECT_EQ(server.modules()[0].path, module_file("mod_test_echo"));
  auto address = server.bound_address("test_echo");
  ASSERT_TRUE(address) << address.error().message();
  EXPECT_EQ(address->rfind("127.0.0.1:", 0), 0u);
  EXPECT_NE(*address, "127.0.0.1:0");

  RunningServer running(server);
  TestClient first(*address), second(*address);
  EXPECT_TRUE(first.echoes("through a module"));
  EXPECT_TRUE(second.echoes("and another"));
  EXPECT_EQ(running.stop(), 0);
  EXPECT_EQ(first.read_to_close(), std::optional<std::string>(""));
}

TEST(ModuleLoading, MissingFileIsNamed) {
  Status status = prepare_with({"server.modules=mod_test_missing"});
  EXPECT_EQ(status.code(), Errc::not_found);
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_missing") + ": no such file");
}

TEST(ModuleLoading, WrongAbiVersionIsRefusedNamingBothVersions) {
  Status status = prepare_with({"server.modules=mod_test_bad_abi"});
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_bad_abi") + ": built for module API version " +
                                  std::to_string(kModuleAbiVersion + 1) + ", this server has version " +
                                  std::to_string(kModuleAbiVersion));
}

TEST(ModuleLoading, WrongAbiSignatureIsRefusedNamingBothSignatures) {
  Status status = prepare_with({"server.modules=mod_test_bad_signature"});
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_bad_signature") +
                                  ": ABI signature 'othercc-1;cxx11abi=0;ndebug=1' differs from the server's '" +
                                  WEIR_ABI_SIGNATURE + "' (rebuild the module)");
}

TEST(ModuleLoading, LibraryWithoutTheEntryPointIsRefused) {
  Status status = prepare_with({"server.modules=mod_test_no_entry"});
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_no_entry") + ": no entry point weir_module_v" +
                                  std::to_string(kModuleAbiVersion) + " (not a Weir module)");
}

TEST(ModuleLoading, ModuleOfAnOlderApiIsNamedAsSuchByItsEntryPoint) {
  Status status = prepare_with({"server.modules=mod_test_old_api"});
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_old_api") +
                                  ": built for module API version 1 (entry point weir_module_v1), this server has "
                                  "version " + std::to_string(kModuleAbiVersion) +
                                  ": rebuild it against this server's SDK");
}

TEST(ModuleLoading, RegistrationErrorIsReportedWithTheFile) {
  Status status = prepare_with({"server.modules=mod_test_register_fails"});
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(),
            "module " + module_file("mod_test_register_fails") + ": registration failed: test_fail: refused on purpose");
}

TEST(ModuleLoading, ServiceNameTakenByAnotherTypeIsAnErrorNamingBothTypes) {
  // mod_test_impostor offers its own type as "http"; mod_test_needs_http asks for HttpService.
  Status status = prepare_with({"server.modules=mod_test_impostor,mod_test_needs_http"});
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), "module " + module_file("mod_test_needs_http") +
                                  ": registration failed: mod_test_needs_http needs the 'http' service as "
                                  "weir::HttpService/1, but the module offering it provides test::Impostor/1");
}

TEST(ModuleLoading, MissingServiceIsAnErrorNamingIt) {
  Status status = prepare_with({"server.modules=mod_test_needs_http"});
  EXPECT_EQ(status.code(), Errc::not_found);
  EXPECT_NE(status.message().find("mod_test_needs_http needs the 'http' service: enable a module that provides it"),
            std::string::npos)
      << status.message();
}

TEST(ModuleLoading, RegistrationThatThrowsBecomesAnError) {
  Status status = prepare_with({"server.modules=mod_test_register_throws"});
  EXPECT_EQ(status.code(), Errc::internal);
  EXPECT_EQ(status.message(),
            "module " + module_file("mod_test_register_throws") + ": registration failed: registration threw: boom");
}

TEST(ModuleLoading, FileThatIsNotALibraryIsRefusedWithTheLinkersReason) {
  Status status = prepare_with({"server.modules=mod_test_not_elf"});
  EXPECT_EQ(status.code(), Errc::config);
  std::string prefix = "module " + module_file("mod_test_not_elf") + ": cannot load: ";
  EXPECT_EQ(status.message().rfind(prefix, 0), 0u) << status.message();
  EXPECT_NE(status.message().find("ELF"), std::string::npos) << status.message();
}

TEST(ModuleLoading, ModuleDeclaringAnotherNameThanItsFileIsRefused) {
  Status status = prepare_with({"server.modules=mod_test_misnamed"});
  EXPECT_EQ(status.message(),
            "module " + module_file("mod_test_misnamed") + ": the file declares the name 'mod_test_other_name'");
}

TEST(ModuleLoading, FirstFailingModuleStopsStartup) {
  Status status = prepare_with({"server.modules=mod_test_echo, mod_test_bad_abi, mod_test_register_fails"});
  EXPECT_NE(status.message().find(module_file("mod_test_bad_abi")), std::string::npos) << status.message();
}

TEST(ModuleLoading, OptionalModulesMayFailWithoutStoppingTheServer) {
  Server server(options_with({"server.modules=mod_test_echo",
                              "server.optional_modules=mod_test_register_throws mod_test_missing"}));
  Status status = server.prepare();
  ASSERT_TRUE(status) << status.message();
  ASSERT_EQ(server.modules().size(), 1u);
  EXPECT_EQ(server.modules()[0].name, "mod_test_echo");
  auto address = server.bound_address("test_echo");
  ASSERT_TRUE(address);
  RunningServer running(server);
  TestClient client(*address);
  EXPECT_TRUE(client.echoes("optional modules did not matter"));
}

TEST(ModuleLoading, UnknownKeyInAModulesSectionStopsStartup) {
  Status status = prepare_with({"server.modules=mod_test_echo", "test_echo.lisen=127.0.0.1:0"});
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), "--set test_echo.lisen: [test_echo] lisen: unknown key");
}

TEST(ModuleLoading, TakenPortFailsStartupNamingTheAddress) {
  Server first(options_with({"server.modules=mod_test_echo"}));
  ASSERT_TRUE(first.prepare());
  std::string taken = first.bound_address("test_echo").value();
  Status status = prepare_with({"server.modules=mod_test_echo", "test_echo.listen=" + taken});
  EXPECT_EQ(status.code(), Errc::io);
  std::string prefix =
      "module " + module_file("mod_test_echo") + ": registration failed: listener test_echo on " + taken + ": ";
  EXPECT_EQ(status.message().rfind(prefix, 0), 0u) << status.message();
}

TEST(ModuleLoader, LoadsAndValidatesWithoutRegistering) {
  ModuleLoader loader;
  auto module = loader.load(module_file("mod_test_echo"));
  ASSERT_TRUE(module) << module.error().message();
  EXPECT_STREQ(module->descriptor->name, "mod_test_echo");
  EXPECT_STREQ(module->descriptor->config_section, "test_echo");
  EXPECT_EQ(module->descriptor->abi_version, kModuleAbiVersion);
  EXPECT_EQ(ModuleLoader::file_for("/x/y", "mod_a"), std::filesystem::path("/x/y/mod_a.so"));
}

}  // namespace
}  // namespace weir::kernel
