// SPDX-License-Identifier: Apache-2.0
// The real `weir` executable: SIGTERM and SIGINT stop it cleanly (exit 0), SIGHUP reloads without
// dropping connections, --check-config reports a bad key on stderr with exit status 1.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <regex>

#include "test_files.h"
#include "test_net.h"

extern char** environ;

namespace weir::kernel {
namespace {

using testing::TempDir;
using testing::TestClient;
using testing::wait_until;

const std::string kWeir = WEIR_TEST_BINARY;
const std::string kModuleDir = WEIR_TEST_MODULE_DIR;

// A child process whose stdout and stderr go to files; killed (SIGKILL) if still running at the end.
class Child {
 public:
  Child(const TempDir& dir, std::vector<std::string> args)
      : out_path_((dir.path() / "stdout").string()), err_path_((dir.path() / "stderr").string()) {
    args.insert(args.begin(), kWeir);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    spawned_ = posix_spawn(&pid_, kWeir.c_str(), &actions, nullptr, argv.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (spawned_ && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  bool spawned() const noexcept { return spawned_; }
  void signal(int number) const { ::kill(pid_, number); }

  /// The exit status, waiting at most the test limit; nullopt if it did not exit (or was killed
  /// by a signal).
  std::optional<int> wait_exit() {
    int status = 0;
    bool done = wait_until([&] {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      return r == pid_;
    });
    if (!done) return std::nullopt;
    exited_ = true;
    if (!WIFEXITED(status)) return std::nullopt;
    return WEXITSTATUS(status);
  }

  std::string out() const { return testing::read_file(out_path_); }
  std::string err() const { return testing::read_file(err_path_); }
  /// Waits (bounded) for `text` to appear on stderr.
  bool err_shows(const std::string& text) const {
    return wait_until([&] { return err().find(text) != std::string::npos; });
  }

 private:
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  bool spawned_ = false;
  bool exited_ = false;
};

std::vector<std::string> echo_server_args() {
  return {"--set", "server.module_dir=" + kModuleDir, "--set", "server.modules=mod_test_echo",
          "--set", "server.threads=2", "--set", "server.workers=1"};
}

// The echo listener's address, from the kernel's "listening on ADDRESS (test_echo)" line.
std::string wait_for_listener(const Child& child) {
  if (!child.err_shows("(test_echo)")) return "";
  std::smatch match;
  std::string err = child.err();
  if (!std::regex_search(err, match, std::regex("listening on (127\\.0\\.0\\.1:[0-9]+) \\(test_echo\\)"))) return "";
  return match[1];
}

TEST(WeirProcess, SigtermStopsTheServerWithExitStatusZero) {
  TempDir dir;
  Child weir(dir, echo_server_args());
  ASSERT_TRUE(weir.spawned());
  std::string address = wait_for_listener(weir);
  ASSERT_FALSE(address.empty()) << weir.err();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(address));
    EXPECT_TRUE(clients.back()->echoes("client " + std::to_string(i)));
  }
  weir.signal(SIGTERM);
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(0)) << weir.err();
  for (auto& client : clients) EXPECT_EQ(client->read_to_close(), std::optional<std::string>(""));
  std::string err = weir.err();
  EXPECT_NE(err.find("signal SIGTERM: shutting down"), std::string::npos) << err;
  // The module's stop hook ran on each group, after its start hook.
  for (const char* group : {"group 0", "group 1"}) {
    auto started = err.find(std::string(group) + " started");
    auto stopped = err.find(std::string(group) + " stopped");
    EXPECT_NE(started, std::string::npos) << err;
    EXPECT_NE(stopped, std::string::npos) << err;
    EXPECT_LT(started, stopped) << err;
  }
}

TEST(WeirProcess, SigintStopsTheServerWithExitStatusZero) {
  TempDir dir;
  Child weir(dir, echo_server_args());
  std::string address = wait_for_listener(weir);
  ASSERT_FALSE(address.empty()) << weir.err();
  TestClient client(address);
  EXPECT_TRUE(client.echoes("x"));
  weir.signal(SIGINT);
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(0)) << weir.err();
}

TEST(WeirProcess, SighupReloadsAndKeepsConnectionsOpen) {
  TempDir dir;
  std::string conf = dir.write("weir.conf", "[log]\nlevel = info\n");
  auto args = echo_server_args();
  args.insert(args.end(), {"-c", conf});
  Child weir(dir, args);
  std::string address = wait_for_listener(weir);
  ASSERT_FALSE(address.empty()) << weir.err();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(address));
    EXPECT_TRUE(clients.back()->echoes("before " + std::to_string(i)));
  }
  weir.signal(SIGHUP);
  ASSERT_TRUE(weir.err_shows("reloaded " + conf)) << weir.err();
  EXPECT_NE(weir.err().find("reload hook ran"), std::string::npos) << weir.err();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(clients[i]->echoes("after " + std::to_string(i)));
  TestClient late(address);  // and it still accepts
  EXPECT_TRUE(late.echoes("late"));
  weir.signal(SIGTERM);
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(0)) << weir.err();
}

TEST(WeirProcess, SighupWithABrokenConfigKeepsTheRunningOne) {
  TempDir dir;
  std::string conf = dir.write("weir.conf", "[log]\nlevel = info\n");
  auto args = echo_server_args();
  args.insert(args.end(), {"-c", conf});
  Child weir(dir, args);
  std::string address = wait_for_listener(weir);
  ASSERT_FALSE(address.empty()) << weir.err();
  TestClient client(address);
  EXPECT_TRUE(client.echoes("before"));
  dir.write("weir.conf", "[log]\nlevel = chatty\n");
  weir.signal(SIGHUP);
  ASSERT_TRUE(weir.err_shows("keeping the running configuration")) << weir.err();
  EXPECT_NE(weir.err().find(conf + ":2"), std::string::npos) << weir.err();
  EXPECT_TRUE(client.echoes("after"));
  weir.signal(SIGTERM);
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(0)) << weir.err();
}

TEST(WeirProcess, CheckConfigWithABadKeyExitsOneNamingIt) {
  TempDir dir;
  std::string conf = dir.write("weir.conf", "[server]\nthreads = 1\nthraeds = 2\n");
  Child weir(dir, {"--check-config", "-c", conf});
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(1));
  EXPECT_EQ(weir.err(), "weir: " + conf + ":3: [server] thraeds: unknown key\n");
  EXPECT_EQ(weir.out(), "");
}

TEST(WeirProcess, CheckConfigWithABadSetKeyExitsOneNamingIt) {
  TempDir dir;
  Child weir(dir, {"--check-config", "--set", "server.bogus=1"});
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(1));
  EXPECT_EQ(weir.err(), "weir: --set server.bogus: [server] bogus: unknown key\n");
}

TEST(WeirProcess, CheckConfigWithABrokenModuleExitsOneNamingTheFile) {
  TempDir dir;
  Child weir(dir, {"--check-config", "--set", "server.module_dir=" + kModuleDir, "--set",
                   "server.modules=mod_test_bad_abi"});
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(1));
  EXPECT_NE(weir.err().find("weir: module " + kModuleDir + "/mod_test_bad_abi.so: built for module API version"),
            std::string::npos)
      << weir.err();
}

TEST(WeirProcess, CheckConfigOfAGoodConfigExitsZeroListingModules) {
  TempDir dir;
  auto args = echo_server_args();
  args.push_back("--check-config");
  Child weir(dir, args);
  EXPECT_EQ(weir.wait_exit(), std::optional<int>(0)) << weir.err();
  EXPECT_EQ(weir.out(), "weir: configuration (defaults) is valid; modules: mod_test_echo\n");
}

}  // namespace
}  // namespace weir::kernel
