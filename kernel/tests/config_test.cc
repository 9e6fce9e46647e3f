// SPDX-License-Identifier: Apache-2.0
// Configuration: every error names the place (file:line, section, key) and the reason.
#include <gtest/gtest.h>

#include "config/config.h"
#include "server/server.h"
#include "test_files.h"

namespace weir::kernel {
namespace {

using testing::TempDir;

std::shared_ptr<Config> parse_ok(const std::string& text, std::vector<std::string> overrides = {}) {
  auto config = Config::parse(text, "test.conf", overrides);
  if (!config) ADD_FAILURE() << config.error().message();
  return config ? *config : std::make_shared<Config>();
}

// prepare() of a server whose config file holds `text` (and no modules).
Status prepare_file(const TempDir& dir, const std::string& text, std::vector<std::string> overrides = {}) {
  ServerOptions options;
  options.config_path = dir.write("weir.conf", text);
  options.overrides = std::move(overrides);
  Server server(options);
  return server.prepare();
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto config = Config::parse("[server]\nthreads = 2\n\n[broken\nkey = 1\n", "weir.conf");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), Errc::config);
  EXPECT_EQ(config.error().message().rfind("weir.conf:4: ", 0), 0u) << config.error().message();
}

TEST(Config, KeyOutsideAnySectionIsAnError) {
  auto config = Config::parse("threads = 2\n[server]\n", "weir.conf");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message(), "weir.conf: key 'threads' outside any [section]");
}

TEST(Config, UnreadKeyIsReportedWithFileLineSectionAndKey) {
  auto config = parse_ok("[server]\nthreads = 2\n; a comment\nthraeds = 4\n");
  const ConfigView& server = config->view("server");
  EXPECT_EQ(server.get_int("threads", 0, 0, 64).value(), 2);
  std::vector<Status> unread = config->unread_keys();
  ASSERT_EQ(unread.size(), 1u);
  EXPECT_EQ(unread[0].message(), "test.conf:4: [server] thraeds: unknown key");
}

TEST(Config, UnknownKeyStopsTheServerNamingFileLineSectionAndKey) {
  TempDir dir;
  Status status = prepare_file(dir, "[server]\nthreads = 1\n\n[sender]\nsoft_limt = 1m\n");
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), (dir.path() / "weir.conf").string() + ":5: [sender] soft_limt: unknown key");
}

TEST(Config, BadIntegerNamesThePlaceAndTheValue) {
  auto config = parse_ok("[server]\nthreads = many\nworkers = 5000\n");
  auto threads = config->view("server").get_int("threads", 0, 0, 1024);
  ASSERT_FALSE(threads);
  EXPECT_EQ(threads.error().message(), "test.conf:2: [server] threads: expected an integer, got 'many'");
  auto workers = config->view("server").get_int("workers", 2, 1, 256);
  ASSERT_FALSE(workers);
  EXPECT_EQ(workers.error().message(), "test.conf:3: [server] workers: 5000 is out of range [1, 256]");
}

TEST(Config, BadIntegerStopsTheServer) {
  TempDir dir;
  Status status = prepare_file(dir, "[server]\nthreads = 2x\n");
  EXPECT_EQ(status.message(), (dir.path() / "weir.conf").string() + ":2: [server] threads: expected an integer, got '2x'");
}

TEST(Config, SizesTakeBinarySuffixes) {
  auto config = parse_ok("[s]\na = 512\nb = 64k\nc = 2m\nd = 1g\ne = 3 KiB\nf = 64q\ng = big\n");
  const ConfigView& s = config->view("s");
  EXPECT_EQ(s.get_bytes("a", 0).value(), 512u);
  EXPECT_EQ(s.get_bytes("b", 0).value(), 64u << 10);
  EXPECT_EQ(s.get_bytes("c", 0).value(), 2u << 20);
  EXPECT_EQ(s.get_bytes("d", 0).value(), 1ull << 30);
  EXPECT_EQ(s.get_bytes("e", 0).value(), 3u << 10);
  EXPECT_EQ(s.get_bytes("absent", 77).value(), 77u);
  EXPECT_EQ(s.get_bytes("f", 0).error().message(), "test.conf:7: [s] f: unknown size unit 'q' (k, m, g), got '64q'");
  EXPECT_EQ(s.get_bytes("g", 0).error().message(),
            "test.conf:8: [s] g: expected a size such as 64k or 2m, got 'big'");
}

TEST(Config, DurationsTakeUnitsAndBareNumbersAreMilliseconds) {
  using std::chrono::milliseconds;
  auto config = parse_ok("[s]\na = 250\nb = 200ms\nc = 5s\nd = 2m\ne = 1h\nf = 1.5s\ng = soon\nh = 3 fortnights\n");
  const ConfigView& s = config->view("s");
  EXPECT_EQ(s.get_duration("a", milliseconds(0)).value(), milliseconds(250));
  EXPECT_EQ(s.get_duration("b", milliseconds(0)).value(), milliseconds(200));
  EXPECT_EQ(s.get_duration("c", milliseconds(0)).value(), milliseconds(5000));
  EXPECT_EQ(s.get_duration("d", milliseconds(0)).value(), milliseconds(120000));
  EXPECT_EQ(s.get_duration("e", milliseconds(0)).value(), milliseconds(3600000));
  EXPECT_EQ(s.get_duration("f", milliseconds(0)).value(), milliseconds(1500));
  EXPECT_EQ(s.get_duration("g", milliseconds(0)).error().message(),
            "test.conf:8: [s] g: expected a duration such as 200ms or 5s, got 'soon'");
  EXPECT_EQ(s.get_duration("h", milliseconds(0)).error().message(),
            "test.conf:9: [s] h: unknown duration unit 'fortnights' (ms, s, m, h), got '3 fortnights'");
}

TEST(Config, BadDurationStopsTheServer) {
  TempDir dir;
  Status status = prepare_file(dir, "[streams]\npublisher_grace = a while\n");
  EXPECT_EQ(status.message(), (dir.path() / "weir.conf").string() +
                                  ":2: [streams] publisher_grace: expected a duration such as 200ms or 5s, got 'a while'");
}

TEST(Config, BooleansTakeTheUsualSpellings) {
  auto config = parse_ok("[s]\na = true\nb = no\nc = on\nd = 0\ne = maybe\n");
  const ConfigView& s = config->view("s");
  EXPECT_TRUE(s.get_bool("a", false).value());
  EXPECT_FALSE(s.get_bool("b", true).value());
  EXPECT_TRUE(s.get_bool("c", false).value());
  EXPECT_FALSE(s.get_bool("d", true).value());
  EXPECT_TRUE(s.get_bool("absent", true).value());
  EXPECT_EQ(s.get_bool("e", false).error().message(), "test.conf:6: [s] e: expected true or false, got 'maybe'");
}

TEST(Config, ListsSplitOnCommasAndSpaces) {
  auto config = parse_ok("[server]\nmodules = mod_a, mod_b  mod_c,,mod_d\tmod_e\nempty =\n");
  const ConfigView& s = config->view("server");
  EXPECT_EQ(s.get_list("modules").value(), (std::vector<std::string>{"mod_a", "mod_b", "mod_c", "mod_d", "mod_e"}));
  EXPECT_EQ(s.get_list("empty").value(), std::vector<std::string>{});
  EXPECT_EQ(s.get_list("absent").value(), std::vector<std::string>{});
}

TEST(Config, CommentsAreStrippedAndLineNumbersKept) {
  auto config = parse_ok("# top\n[server]\n; whole line\nthreads = 3 ; trailing\nworkers = 2 # also trailing\n");
  const ConfigView& s = config->view("server");
  EXPECT_EQ(s.get_int("threads", 0, 0, 64).value(), 3);
  EXPECT_EQ(s.get_int("workers", 0, 0, 64).value(), 2);
  EXPECT_EQ(s.where("threads"), "test.conf:4");
  EXPECT_EQ(s.where("workers"), "test.conf:5");
  EXPECT_EQ(s.where("absent"), "test.conf:2");  // the section's line
  EXPECT_EQ(config->view("nosuch").where("key"), "test.conf");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"threads", "workers"}));
}

TEST(Config, SetOverridesAFileValueAndSaysWhereItCameFrom) {
  auto config = parse_ok("[server]\nthreads = 2\n", {"server.threads=8", "log.level = debug"});
  EXPECT_EQ(config->view("server").get_int("threads", 0, 0, 64).value(), 8);
  EXPECT_EQ(config->view("server").where("threads"), "--set server.threads");
  EXPECT_EQ(config->view("log").get_string("level", "info").value(), "debug");
  EXPECT_EQ(config->view("log").where("level"), "--set log.level");
}

TEST(Config, SetValueErrorsNameTheSet) {
  auto config = parse_ok("", {"server.threads=lots"});
  EXPECT_EQ(config->view("server").get_int("threads", 0, 0, 64).error().message(),
            "--set server.threads: [server] threads: expected an integer, got 'lots'");
}

TEST(Config, MalformedSetIsAnError) {
  for (std::string bad : {"nodot=1", "server.threads", "=1", ".threads=1", "server.=1"}) {
    auto config = Config::parse("", "", {bad});
    ASSERT_FALSE(config) << bad;
    EXPECT_EQ(config.error().message(), "--set " + bad + ": expected section.key=value");
  }
}

TEST(Config, UnknownSetKeyStopsTheServer) {
  ServerOptions options;
  options.overrides = {"server.threads=1", "server.bogus=1"};
  Server server(options);
  Status status = server.prepare();
  EXPECT_EQ(status.code(), Errc::config);
  EXPECT_EQ(status.message(), "--set server.bogus: [server] bogus: unknown key");
}

TEST(Config, UnknownSectionOnlyWarns) {
  TempDir dir;
  std::string log = (dir.path() / "weir.log").string();
  Status status = prepare_file(dir, "[server]\nthreads = 1\n\n[nonsense]\nkey = 1\n\n[log]\nfile = " + log + "\n");
  ASSERT_TRUE(status) << status.message();
  EXPECT_NE(testing::read_file(log).find((dir.path() / "weir.conf").string() +
                                         ":4: section [nonsense] is not used by the server or any enabled module"),
            std::string::npos)
      << testing::read_file(log);
}

TEST(Config, HardLimitBelowSoftLimitIsRefused) {
  TempDir dir;
  Status status = prepare_file(dir, "[sender]\nsoft_limit = 4m\nhard_limit = 1m\n");
  EXPECT_EQ(status.message(),
            (dir.path() / "weir.conf").string() + ":3: [sender] hard_limit: must not be below soft_limit");
}

TEST(Config, MissingFileIsNamed) {
  ServerOptions options;
  options.config_path = "/nonexistent/weir.conf";
  Server server(options);
  EXPECT_EQ(server.prepare().message(), "/nonexistent/weir.conf: cannot open config file");
}

TEST(Config, ShippedConfigIsValid) {
  ServerOptions options;
  options.config_path = WEIR_SOURCE_DIR "/etc/weir.conf";
  // The kernel's part of it: its modules' sections are only warned about without them.
  options.overrides = {"server.threads=1", "server.modules=", "log.level=error"};
  Server server(options);
  Status status = server.prepare();
  EXPECT_TRUE(status) << status.message();
}

}  // namespace
}  // namespace weir::kernel
