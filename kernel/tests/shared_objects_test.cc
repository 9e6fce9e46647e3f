// SPDX-License-Identifier: Apache-2.0
// Shared objects across real poll groups: subscribers on two groups see each other's changes and
// messages, refusals at the limits, persistence through a temporary directory (round trip, a
// broken file), and the stored file format.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "shared_objects/object_file.h"
#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::TestGroupsOptions;
using testing::wait_until;

// What one subscriber saw, as text lines ("initial v0", "changed x=1 origin=self", ...).
// Lives on its group; the test reads it there.
class Recorder final : public SharedObjectSubscriber {
 public:
  void on_update(const SharedObjectUpdate& update) noexcept override {
    if (update.is_initial) log.push_back("initial v" + std::to_string(update.version));
    for (const SharedObjectEvent& e : update.events) {
      std::string who = e.origin == 0 ? "server" : (subscription && e.origin == subscription->id() ? "self" : "other");
      switch (e.type) {
        case SharedObjectEvent::Type::changed:
          log.push_back("changed " + e.name + "=" + text(e.value) + " by " + who);
          break;
        case SharedObjectEvent::Type::removed: log.push_back("removed " + e.name + " by " + who); break;
        case SharedObjectEvent::Type::cleared: log.push_back("cleared"); break;
        case SharedObjectEvent::Type::message: {
          std::string args;
          for (const Value& v : e.value.items()) args += (args.empty() ? "" : ",") + text(v);
          log.push_back("message " + e.name + "(" + args + ") by " + who);
          break;
        }
      }
    }
    version = update.version;
  }
  void on_refused(std::string_view slot, const Value& current, const Status& why) noexcept override {
    log.push_back("refused " + std::string(slot) + " current=" + text(current) + " " + std::string(errc_name(why.code())));
    last_error = why;
  }
  void on_failed(const Status& why) noexcept override {
    log.push_back("failed");
    last_error = why;
  }
  static std::string text(const Value& v) {
    if (v.is_number()) return std::to_string(static_cast<long long>(v.as_number()));
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_undefined()) return "undefined";
    if (v.is_object()) return "{" + std::to_string(v.members().size()) + "}";
    return "?";
  }
  bool has(const std::string& line) const { return std::find(log.begin(), log.end(), line) != log.end(); }

  std::unique_ptr<SharedObjectSubscription> subscription;
  std::vector<std::string> log;
  std::uint64_t version = 0;
  Status last_error;
};

// A temporary directory, removed at the end.
struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/weir-so-test-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

TestGroupsOptions options(std::string directory = {}, GroupId count = 2) {
  TestGroupsOptions o;
  o.count = count;
  o.shared_objects.directory = std::move(directory);
  return o;
}

// Subscribes a recorder on group g; returns the recorder (owned by the test, used on g).
std::unique_ptr<Recorder> subscribe(TestGroups& groups, GroupId g, const SharedObjectKey& key) {
  auto recorder = std::make_unique<Recorder>();
  groups.run(g, [&] {
    auto s = groups[g].shared_objects().subscribe(key, *recorder);
    EXPECT_TRUE(s) << s.error().message();
    if (s) recorder->subscription = std::move(*s);
  });
  return recorder;
}

bool seen(TestGroups& groups, GroupId g, Recorder& r, const std::string& line) {
  return wait_until([&] { return groups.run(g, [&] { return r.has(line); }); });
}

void unsubscribe(TestGroups& groups, GroupId g, std::unique_ptr<Recorder>& r) {
  groups.run(g, [&] { r->subscription.reset(); });
  r.reset();
}

const SharedObjectKey kChat{"chat", "room1", false};

TEST(SharedObjects, TwoGroupsSeeEachOthersChangesWithSuccessForTheirOwn) {
  TestGroups groups(options());
  auto a = subscribe(groups, 0, kChat);
  auto b = subscribe(groups, 1, kChat);
  ASSERT_TRUE(seen(groups, 0, *a, "initial v0"));
  ASSERT_TRUE(seen(groups, 1, *b, "initial v0"));

  groups.run(0, [&] { a->subscription->set("x", Value(1)); });
  ASSERT_TRUE(seen(groups, 0, *a, "changed x=1 by self"));
  ASSERT_TRUE(seen(groups, 1, *b, "changed x=1 by other"));
  groups.run(1, [&] { b->subscription->set("y", Value("hello")); });
  ASSERT_TRUE(seen(groups, 0, *a, "changed y=hello by other"));
  ASSERT_TRUE(seen(groups, 1, *b, "changed y=hello by self"));
  groups.run(1, [&] { b->subscription->remove("x"); });
  ASSERT_TRUE(seen(groups, 0, *a, "removed x by other"));

  // Each group's replica follows the owner: version 3 after two sets and a remove.
  EXPECT_TRUE(wait_until([&] { return groups.run(0, [&] { return a->version == 3; }); }));
  groups.run(0, [&] {
    EXPECT_EQ(a->subscription->get("x"), nullptr);
    ASSERT_NE(a->subscription->get("y"), nullptr);
    EXPECT_EQ(a->subscription->get("y")->as_string(), "hello");
  });
  unsubscribe(groups, 0, a);
  unsubscribe(groups, 1, b);
}

TEST(SharedObjects, SendReachesEverySubscriberTheSenderIncluded) {
  TestGroups groups(options({}, 3));
  auto a = subscribe(groups, 0, kChat);
  auto b = subscribe(groups, 1, kChat);
  auto c = subscribe(groups, 2, kChat);
  // Messages are not kept: every subscription must have reached the owner before the send.
  ASSERT_TRUE(seen(groups, 0, *a, "initial v0"));
  ASSERT_TRUE(seen(groups, 1, *b, "initial v0"));
  ASSERT_TRUE(seen(groups, 2, *c, "initial v0"));
  groups.run(1, [&] { b->subscription->send("say", {Value("hi"), Value(2)}); });
  EXPECT_TRUE(seen(groups, 0, *a, "message say(hi,2) by other"));
  EXPECT_TRUE(seen(groups, 1, *b, "message say(hi,2) by self"));
  EXPECT_TRUE(seen(groups, 2, *c, "message say(hi,2) by other"));
  unsubscribe(groups, 0, a);
  unsubscribe(groups, 1, b);
  unsubscribe(groups, 2, c);
}

TEST(SharedObjects, ChangesFromOneGroupArriveInOrderAndLateJoinersGetTheState) {
  TestGroups groups(options());
  auto a = subscribe(groups, 0, kChat);
  ASSERT_TRUE(seen(groups, 0, *a, "initial v0"));
  groups.run(1, [&] {
    for (int i = 0; i < 100; ++i) groups[1].shared_objects().set(kChat, "n", Value(i));
  });
  ASSERT_TRUE(seen(groups, 0, *a, "changed n=99 by server"));
  groups.run(0, [&] {
    std::vector<std::string> changes;
    for (const std::string& line : a->log)
      if (line.starts_with("changed n=")) changes.push_back(line);
    ASSERT_EQ(changes.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(changes[i], "changed n=" + std::to_string(i) + " by server");
  });
  // A second subscriber on group 0 gets the state from the replica; one on group 1 from the owner.
  auto late0 = subscribe(groups, 0, kChat);
  auto late1 = subscribe(groups, 1, kChat);
  EXPECT_TRUE(seen(groups, 0, *late0, "initial v100"));
  EXPECT_TRUE(seen(groups, 0, *late0, "changed n=99 by server"));
  EXPECT_TRUE(seen(groups, 1, *late1, "initial v100"));
  EXPECT_TRUE(seen(groups, 1, *late1, "changed n=99 by server"));
  unsubscribe(groups, 0, late0);
  unsubscribe(groups, 0, a);
  unsubscribe(groups, 1, late1);
}

TEST(SharedObjects, ServerSideCallsReportDoneAndGetReadsTheOwner) {
  TestGroups groups(options());
  std::atomic<int> done{0};
  groups.run(0, [&] {
    groups[0].shared_objects().set(kChat, "a", Value(1), [&](Status s) { EXPECT_TRUE(s); ++done; });
    groups[0].shared_objects().set(kChat, "b", Value::object({{"k", Value("v")}}), [&](Status s) { EXPECT_TRUE(s); ++done; });
    groups[0].shared_objects().set(kChat, "", Value(1), [&](Status s) {
      EXPECT_EQ(s.code(), Errc::malformed);
      EXPECT_NE(s.message().find("empty slot name"), std::string::npos) << s.message();
      ++done;
    });
  });
  ASSERT_TRUE(wait_until([&] { return done == 3; }));
  std::atomic<bool> got{false};
  groups.run(1, [&] {
    groups[1].shared_objects().get(kChat, [&](Result<SharedObjectSnapshot> snapshot) {
      ASSERT_TRUE(snapshot);
      EXPECT_EQ(snapshot->version, 2u);
      ASSERT_EQ(snapshot->slots.members().size(), 2u);
      EXPECT_EQ(snapshot->slots.find("a")->as_number(), 1);
      EXPECT_EQ(snapshot->slots.find("b")->find("k")->as_string(), "v");
      got = true;
    });
  });
  ASSERT_TRUE(wait_until([&] { return got.load(); }));
  std::atomic<bool> listed{false};
  groups.run(1, [&] {
    groups[1].shared_objects().names("chat", [&](Result<std::vector<SharedObjectKey>> names) {
      ASSERT_TRUE(names);
      ASSERT_EQ(names->size(), 1u);
      EXPECT_EQ((*names)[0], kChat);
      listed = true;
    });
  });
  EXPECT_TRUE(wait_until([&] { return listed.load(); }));
}

TEST(SharedObjects, LimitsRefuseTheChangeAndTellTheAskerTheCurrentValue) {
  TestGroupsOptions o = options();
  o.shared_objects.max_slots = 2;
  o.shared_objects.max_object_bytes = 200;
  TestGroups groups(o);
  auto a = subscribe(groups, 0, kChat);
  auto b = subscribe(groups, 1, kChat);
  ASSERT_TRUE(seen(groups, 1, *b, "initial v0"));
  groups.run(0, [&] {
    a->subscription->set("one", Value(1));
    a->subscription->set("two", Value(2));
    a->subscription->set("three", Value(3));                  // a third slot
    a->subscription->set("one", Value(std::string(300, 'x')));  // too many bytes
  });
  EXPECT_TRUE(seen(groups, 0, *a, "refused three current=undefined limit"));
  EXPECT_TRUE(seen(groups, 0, *a, "refused one current=1 limit"));
  groups.run(0, [&] { EXPECT_NE(a->last_error.message().find("max_object_bytes"), std::string::npos); });
  // The other subscriber saw only what was applied.
  ASSERT_TRUE(seen(groups, 1, *b, "changed two=2 by other"));
  groups.run(1, [&] {
    for (const std::string& line : b->log) EXPECT_EQ(line.find("three"), std::string::npos) << line;
  });
  unsubscribe(groups, 0, a);
  unsubscribe(groups, 1, b);
}

TEST(SharedObjects, ValuesTooDeepToStoreAreRefused) {
  TestGroups groups(options());
  Value deep = Value(1);
  for (int i = 0; i < kMaxStoredDepth; ++i) deep = Value::array({std::move(deep)});
  Value fine = Value(1);
  for (int i = 0; i < kMaxStoredDepth - 1; ++i) fine = Value::array({std::move(fine)});  // the deepest stored
  std::atomic<int> done{0};
  groups.run(0, [&] {
    groups[0].shared_objects().set(kChat, "deep", deep, [&](Status s) {
      EXPECT_EQ(s.code(), Errc::limit) << s.message();
      ++done;
    });
    groups[0].shared_objects().set(kChat, "fine", fine, [&](Status s) {
      EXPECT_TRUE(s) << s.message();
      ++done;
    });
  });
  ASSERT_TRUE(wait_until([&] { return done == 2; }));
  // What was accepted can be stored and read back.
  std::atomic<bool> got{false};
  groups.run(1, [&] {
    groups[1].shared_objects().get(kChat, [&](Result<SharedObjectSnapshot> snapshot) {
      ASSERT_TRUE(snapshot);
      std::string bytes = encode_object_file(*snapshot);
      auto decoded = decode_object_file({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
      EXPECT_TRUE(decoded) << decoded.error().message();
      got = true;
    });
  });
  EXPECT_TRUE(wait_until([&] { return got.load(); }));
}

TEST(SharedObjects, ASubscriberMayLeaveFromInsideItsUpdate) {
  TestGroups groups(options());
  struct Leaver final : SharedObjectSubscriber {
    void on_update(const SharedObjectUpdate& u) noexcept override {
      if (!u.is_initial) subscription.reset();
      ++updates;
    }
    void on_refused(std::string_view, const Value&, const Status&) noexcept override {}
    void on_failed(const Status&) noexcept override {}
    std::unique_ptr<SharedObjectSubscription> subscription;
    int updates = 0;
  };
  Leaver first, second;
  groups.run(1, [&] {
    first.subscription = std::move(*groups[1].shared_objects().subscribe(kChat, first));
    second.subscription = std::move(*groups[1].shared_objects().subscribe(kChat, second));
  });
  groups.run_until_idle();
  groups.run(0, [&] { groups[0].shared_objects().set(kChat, "x", Value(1)); });
  ASSERT_TRUE(wait_until([&] { return groups.run(1, [&] { return !first.subscription && !second.subscription; }); }));
  groups.run_until_idle();
  // Both left: a temporary object with no subscribers is gone; names() finds nothing.
  std::atomic<int> count{-1};
  groups.run(0, [&] {
    groups[0].shared_objects().names("chat", [&](Result<std::vector<SharedObjectKey>> n) {
      count = n ? static_cast<int>(n->size()) : -2;
    });
  });
  ASSERT_TRUE(wait_until([&] { return count.load() != -1; }));
  EXPECT_EQ(count.load(), 0);
}

TEST(SharedObjects, PersistentObjectSurvivesARestart) {
  TempDir dir;
  const SharedObjectKey key{"game", "scores/high", true};
  {
    TestGroups groups(options(dir.path));
    auto a = subscribe(groups, 0, key);
    ASSERT_TRUE(seen(groups, 0, *a, "initial v0"));
    groups.run(0, [&] {
      a->subscription->set("alice", Value(10));
      a->subscription->set("bob", Value::object({{"score", Value(7)}, {"when", Value::date(1.5e12)}}));
      a->subscription->remove("alice");
      a->subscription->set("carol", Value(3));
    });
    ASSERT_TRUE(seen(groups, 0, *a, "changed carol=3 by self"));
    unsubscribe(groups, 0, a);
    // The stop waits for the last write (the worker pool finishes its jobs).
  }
  std::string file = dir.path + "/game/scores%2Fhigh.wso";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
  {
    TestGroups groups(options(dir.path));
    auto b = subscribe(groups, 1, key);
    ASSERT_TRUE(seen(groups, 1, *b, "initial v4"));
    groups.run(1, [&] {
      EXPECT_FALSE(b->has("changed alice=10 by server"));
      EXPECT_TRUE(b->has("changed carol=3 by server"));
      ASSERT_NE(b->subscription->get("bob"), nullptr);
      EXPECT_EQ(b->subscription->get("bob")->find("when")->as_date_ms(), 1.5e12);
    });
    // The temporary object of the same name is another object.
    auto t = subscribe(groups, 0, SharedObjectKey{"game", "scores/high", false});
    EXPECT_TRUE(seen(groups, 0, *t, "initial v0"));
    std::atomic<bool> listed{false};
    groups.run(0, [&] {
      groups[0].shared_objects().names("game", [&](Result<std::vector<SharedObjectKey>> names) {
        ASSERT_TRUE(names) << names.error().message();
        EXPECT_EQ(names->size(), 2u);
        listed = true;
      });
    });
    EXPECT_TRUE(wait_until([&] { return listed.load(); }));
    unsubscribe(groups, 0, t);
    unsubscribe(groups, 1, b);
  }
}

TEST(SharedObjects, ServerSideWritesToAPersistentObjectWithoutSubscribersAreStored) {
  TempDir dir;
  const SharedObjectKey key{"app", "config", true};
  {
    TestGroups groups(options(dir.path));
    std::atomic<int> done{0};
    groups.run(1, [&] {
      auto& objects = groups[1].shared_objects();
      objects.set(key, "a", Value(1), [&](Status s) { EXPECT_TRUE(s) << s.message(); ++done; });
      objects.clear(key, [&](Status s) { EXPECT_TRUE(s) << s.message(); ++done; });
      objects.set(key, "b", Value("kept"), [&](Status s) { EXPECT_TRUE(s) << s.message(); ++done; });
    });
    ASSERT_TRUE(wait_until([&] { return done == 3; }));
  }
  TestGroups groups(options(dir.path));
  std::atomic<bool> got{false};
  groups.run(0, [&] {
    groups[0].shared_objects().get(key, [&](Result<SharedObjectSnapshot> snapshot) {
      ASSERT_TRUE(snapshot) << snapshot.error().message();
      EXPECT_EQ(snapshot->version, 3u);
      EXPECT_EQ(snapshot->slots, Value::object({{"b", Value("kept")}}));
      got = true;
    });
  });
  EXPECT_TRUE(wait_until([&] { return got.load(); }));
}

TEST(SharedObjects, ABrokenFileFailsThatObjectOnlyAndIsKept) {
  TempDir dir;
  std::filesystem::create_directories(dir.path + "/game");
  std::string file = dir.path + "/game/bad.wso";
  std::ofstream(file, std::ios::binary) << "WEIRSO1\n" << std::string(8, '\0') << std::string("\0\0\0\x05", 4);
  TestGroups groups(options(dir.path));
  auto bad = subscribe(groups, 0, SharedObjectKey{"game", "bad", true});
  auto good = subscribe(groups, 1, SharedObjectKey{"game", "good", true});
  ASSERT_TRUE(seen(groups, 0, *bad, "failed"));
  groups.run(0, [&] {
    EXPECT_EQ(bad->last_error.code(), Errc::malformed);
    EXPECT_NE(bad->last_error.message().find(file), std::string::npos) << bad->last_error.message();
  });
  EXPECT_TRUE(seen(groups, 1, *good, "initial v0"));
  unsubscribe(groups, 0, bad);
  unsubscribe(groups, 1, good);
  EXPECT_TRUE(std::filesystem::exists(file));  // not overwritten: an operator can look at it
}

TEST(SharedObjects, PersistentWithoutADirectoryIsRefusedClearly) {
  TestGroups groups(options(""));
  auto r = subscribe(groups, 0, SharedObjectKey{"game", "p", true});
  ASSERT_TRUE(seen(groups, 0, *r, "failed"));
  groups.run(0, [&] {
    EXPECT_EQ(r->last_error.code(), Errc::unsupported);
    EXPECT_NE(r->last_error.message().find("[shared_objects] directory"), std::string::npos);
  });
  unsubscribe(groups, 0, r);
}

TEST(SharedObjects, EmptyNamesAreRefusedAtSubscribe) {
  TestGroups groups(options());
  Recorder r;
  groups.run(0, [&] {
    auto s = groups[0].shared_objects().subscribe(SharedObjectKey{"chat", "", false}, r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::malformed);
  });
}

TEST(ObjectFile, RoundTripsEveryKindOfValue) {
  SharedObjectSnapshot snapshot{42, Value::object({{"u", Value()},
                                                   {"n", Value::null()},
                                                   {"b", Value(true)},
                                                   {"d", Value(-2.5)},
                                                   {"s", Value("text")},
                                                   {"t", Value::date(123.0)},
                                                   {"a", Value::array({Value(1), Value("two")})},
                                                   {"o", Value::object({{"x", Value(1)}}, "my.Class")}})};
  std::string bytes = encode_object_file(snapshot);
  auto decoded = decode_object_file({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->version, 42u);
  EXPECT_EQ(decoded->slots, snapshot.slots);
}

TEST(ObjectFile, EveryTruncationIsAnErrorNamingTheOffset) {
  std::string bytes = encode_object_file({1, Value::object({{"k", Value::array({Value("abc"), Value(1)})}})});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decode_object_file({reinterpret_cast<const std::uint8_t*>(bytes.data()), n});
    ASSERT_FALSE(decoded) << n;
    EXPECT_EQ(decoded.error().code(), Errc::malformed);
  }
}

TEST(ObjectFile, AForgedCountIsRefusedBeforeAnyAllocation) {
  std::string bytes = encode_object_file({1, Value::object()});
  bytes.replace(16, 4, std::string("\x7f\xff\xff\xff", 4));
  auto decoded = decode_object_file({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message().find("exceeds"), std::string::npos) << decoded.error().message();
}

TEST(ObjectFile, FileNamesEscapeEverythingButPlainCharacters) {
  EXPECT_EQ(escape_file_name("a/b..c d"), "a%2Fb%2E%2Ec%20d");
  EXPECT_EQ(*unescape_file_name("a%2Fb%2E%2Ec%20d"), "a/b..c d");
  EXPECT_FALSE(unescape_file_name("a%2"));
  EXPECT_FALSE(unescape_file_name("a.b"));
}

}  // namespace
}  // namespace weir::kernel
