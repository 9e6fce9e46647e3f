// SPDX-License-Identifier: Apache-2.0
// Streams across real poll groups: fan-out in order, the GOP cache for late joiners, publish
// conflicts, waiting subscribers, and the publisher grace period.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>

#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::TestGroupsOptions;
using testing::wait_until;

const StreamKey kKey{"live", "cam1"};

TestGroupsOptions with_grace(std::chrono::milliseconds grace, GroupId count = 2) {
  TestGroupsOptions options;
  options.count = count;
  options.streams.publisher_grace = grace;
  return options;
}

// What one subscriber saw, in order: "published", "unpublished", or a frame's payload text.
// Lives on its group; the test reads it there.
class Recorder final : public StreamSubscriber {
 public:
  void on_frames(std::span<const MediaFrame> frames) noexcept override {
    batches.emplace_back();
    for (const MediaFrame& frame : frames) {
      auto bytes = frame.payload.to_vector();
      std::string label(bytes.begin(), bytes.end());
      log.push_back(label);
      frame_labels.push_back(label);
      dts.push_back(frame.dts_ms);
      batches.back().push_back(label);
    }
    if (leave_after_first_batch) subscription.reset();
  }
  void on_stream_event(StreamEvent event) noexcept override {
    log.push_back(event == StreamEvent::published ? "published" : "unpublished");
    if (event == StreamEvent::unpublished) unpublished_at = Clock::now();
  }
  std::size_t count(const std::string& entry) const { return static_cast<std::size_t>(std::count(log.begin(), log.end(), entry)); }

  std::unique_ptr<Subscription> subscription;  // destroyed before the recorder
  std::vector<std::string> log;
  std::vector<std::string> frame_labels;
  std::vector<std::int64_t> dts;
  std::vector<std::vector<std::string>> batches;
  Clock::time_point unpublished_at{};
  bool leave_after_first_batch = false;
};

// A publisher and the writer for its payloads. Lives on its group.
struct Publisher {
  explicit Publisher(PollGroupImpl& group) : group(group), writer(group.pages()) {}
  Status start(const StreamKey& key = kKey) {
    auto result = group.streams().publish(key, PublishOptions{});
    if (!result) return result.error();
    publication = std::move(*result);
    return ok();
  }
  void push(const std::string& label, MediaKind kind, FrameFlags flags = {}) {
    MediaFrame frame;
    frame.dts_ms = dts++;
    frame.kind = kind;
    frame.codec = kind == MediaKind::video ? Codec::h264 : kind == MediaKind::audio ? Codec::aac : Codec::amf0;
    frame.flags = flags;
    writer.append(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()),
                  frame.payload);
    publication->push(std::move(frame));
  }
  void video(const std::string& label, bool key = false) { push(label, MediaKind::video, FrameFlags{key, false, false}); }
  void audio(const std::string& label) { push(label, MediaKind::audio); }

  PollGroupImpl& group;
  PageWriter writer;
  std::unique_ptr<Publication> publication;
  std::int64_t dts = 0;
};

// Owns recorders and publishers on their groups and tears them down there.
class StreamTest {
 public:
  explicit StreamTest(TestGroupsOptions options) : groups(std::move(options)) {}
  ~StreamTest() {
    for (auto& [g, recorder] : recorders)
      groups.run(g, [&r = recorder] {
        if (r) r->subscription.reset();
        r.reset();
      });
    for (auto& [g, publisher] : publishers) groups.run(g, [&p = publisher] { p.reset(); });
    groups.run_until_idle();
  }

  Publisher& publisher_on(GroupId g) {
    publishers.emplace_back(g, groups.run(g, [&] { return std::make_unique<Publisher>(groups[g]); }));
    return *publishers.back().second;
  }
  /// A recorder subscribed on group `g`; the subscribe result is returned for checking.
  std::pair<Recorder*, Status> subscribe_on(GroupId g, SubscribeOptions options = {}, const StreamKey& key = kKey) {
    return groups.run(g, [&] {
      auto recorder = std::make_unique<Recorder>();
      auto subscription = groups[g].streams().subscribe(key, *recorder, options);
      Status status = subscription ? ok() : subscription.error();
      if (subscription) recorder->subscription = std::move(*subscription);
      Recorder* raw = recorder.get();
      recorders.emplace_back(g, std::move(recorder));
      return std::pair{raw, status};
    });
  }
  template <class Fn>
  auto on(GroupId g, Fn&& fn) {
    return groups.run(g, std::forward<Fn>(fn));
  }
  /// Returns once group `g` has ended the turns of what ran on it before (and sent what they
  /// posted). Two tasks: a handler's own posts (its end of turn) run after it returns, so a task
  /// posted from here while the previous one still runs may overtake that end of turn.
  void finish_turns(GroupId g) {
    groups.run(g, [] {});
    groups.run(g, [] {});
  }
  std::vector<std::string> log_of(GroupId g, Recorder* r) { return groups.run(g, [r] { return r->log; }); }
  std::vector<std::string> frames_of(GroupId g, Recorder* r) { return groups.run(g, [r] { return r->frame_labels; }); }
  bool wait_frames(GroupId g, Recorder* r, std::size_t n) {
    return wait_until([&] { return frames_of(g, r).size() >= n; });
  }

  TestGroups groups;
  std::vector<std::pair<GroupId, std::unique_ptr<Recorder>>> recorders;
  std::vector<std::pair<GroupId, std::unique_ptr<Publisher>>> publishers;
};

TEST(Streams, SubscribersOnThePublishersGroupAndAnotherGetTheSameFramesInOrder) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  auto [local, s0] = t.subscribe_on(0);
  auto [remote, s1] = t.subscribe_on(1);
  ASSERT_TRUE(s0) << s0.message();
  ASSERT_TRUE(s1) << s1.message();
  t.groups.run_until_idle();  // the remote tap and its count are known to the publisher
  EXPECT_EQ(t.on(0, [&] { return publisher.publication->subscriber_count(); }), 2u);
  std::vector<std::string> expected;
  for (int turn = 0; turn < 20; ++turn) {
    std::vector<std::string> labels;
    for (int i = 0; i < 10; ++i) labels.push_back("a" + std::to_string(turn * 10 + i));
    expected.insert(expected.end(), labels.begin(), labels.end());
    t.on(0, [&] {
      for (const auto& label : labels) publisher.audio(label);
    });
  }
  ASSERT_TRUE(t.wait_frames(0, local, expected.size()));
  ASSERT_TRUE(t.wait_frames(1, remote, expected.size()));
  EXPECT_EQ(t.frames_of(0, local), expected);
  EXPECT_EQ(t.frames_of(1, remote), expected);
  // One message per turn per group, not one per frame: 20 turns gave at most 20 batches.
  EXPECT_LE(t.on(1, [r = remote] { return r->batches.size(); }), 20u);
}

TEST(Streams, LateJoinerGetsHeadersThenMetadataThenTheGopFromTheLastKeyFrame) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  t.on(0, [&] {
    publisher.push("avc-header", MediaKind::video, FrameFlags{false, true, false});
    publisher.push("aac-header", MediaKind::audio, FrameFlags{false, true, false});
    publisher.push("onMetaData", MediaKind::data, FrameFlags{false, false, true});
    publisher.video("K1", true);
    publisher.video("P1");
    publisher.audio("A1");
  });
  t.on(0, [&] {
    publisher.video("K2", true);
    publisher.video("P2");
    publisher.audio("A2");
    publisher.video("P3");
  });
  const std::vector<std::string> start{"avc-header", "aac-header", "onMetaData", "K2", "P2", "A2", "P3"};
  for (GroupId g : {GroupId{1}, GroupId{0}}) {
    auto [late, status] = t.subscribe_on(g);
    ASSERT_TRUE(status) << status.message();
    ASSERT_TRUE(t.wait_frames(g, late, start.size())) << "group " << g;
    EXPECT_EQ(t.on(g, [r = late] { return r->batches.front(); }), start) << "group " << g;
  }
  t.groups.run_until_idle();
  t.on(0, [&] { publisher.video("P4"); });
  for (auto& [g, recorder] : t.recorders) {
    ASSERT_TRUE(t.wait_frames(g, recorder.get(), start.size() + 1));
    auto frames = t.frames_of(g, recorder.get());
    std::vector<std::string> expected = start;
    expected.push_back("P4");
    EXPECT_EQ(frames, expected) << "group " << g;
  }
}

// Streams::collect() from group 0: the publication's counters from group 1, players from both.
std::vector<StreamStats> collect_on(StreamTest& t, GroupId g) {
  auto promise = std::make_shared<std::promise<std::vector<StreamStats>>>();
  auto future = promise->get_future();
  t.on(g, [&] { t.groups[g].streams().collect([promise](std::vector<StreamStats> s) { promise->set_value(std::move(s)); }); });
  EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return future.get();
}

TEST(Streams, CollectGathersPublisherCountersAndPlayersByProtocolFromEveryGroup) {
  StreamTest t(with_grace(std::chrono::milliseconds(0)));
  Publisher& publisher = t.publisher_on(1);
  ASSERT_TRUE(t.on(1, [&] {
    auto result = publisher.group.streams().publish(kKey, PublishOptions{true, "rtmp", "10.0.0.7:5000"});
    if (result) publisher.publication = std::move(*result);
    return result ? ok() : result.error();
  }));
  auto [a, sa] = t.subscribe_on(0, SubscribeOptions{false, "rtmp"});
  auto [b, sb] = t.subscribe_on(0, SubscribeOptions{false, "rtmp"});
  auto [c, sc] = t.subscribe_on(1, SubscribeOptions{false, "http-flv"});
  ASSERT_TRUE(sa && sb && sc);
  t.on(1, [&] {
    publisher.push("avc-header", MediaKind::video, FrameFlags{false, true, false});  // dts 0, not counted
    publisher.push("meta", MediaKind::data, FrameFlags{false, false, true});         // dts 1
    publisher.video("K1", true);                                                     // dts 2
    publisher.audio("A1");                                                           // dts 3
    publisher.video("P1");                                                           // dts 4
    publisher.dts = 40;
    publisher.video("K2", true);  // dts 40: key-frame interval 38 ms
    publisher.audio("A2");        // dts 41
  });
  t.groups.run_until_idle();

  std::vector<StreamStats> streams = collect_on(t, 0);
  ASSERT_EQ(streams.size(), 1u);
  const StreamStats& s = streams[0];
  EXPECT_EQ(s.key, kKey);
  EXPECT_TRUE(s.is_published);
  EXPECT_EQ(s.publisher_protocol, "rtmp");
  EXPECT_EQ(s.publisher_address, "10.0.0.7:5000");
  EXPECT_EQ(s.video.codec, Codec::h264);
  EXPECT_EQ(s.video.frames, 3u);
  EXPECT_EQ(s.video.bytes, 6u);  // "K1" "P1" "K2"
  EXPECT_EQ(s.video.key_frames, 2u);
  EXPECT_EQ(s.video.first_dts_ms, 2);
  EXPECT_EQ(s.video.last_dts_ms, 40);
  EXPECT_EQ(s.video.sequence_header.payload.size(), std::string("avc-header").size());
  EXPECT_EQ(s.audio.codec, Codec::aac);
  EXPECT_EQ(s.audio.frames, 2u);
  EXPECT_EQ(s.audio.bytes, 4u);
  EXPECT_TRUE(s.audio.sequence_header.payload.empty());
  EXPECT_EQ(s.data_frames, 1u);
  EXPECT_EQ(s.key_frame_interval_ms, 38);
  EXPECT_EQ(s.players, 3u);
  using Counts = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(s.players_by_protocol, (Counts{{"http-flv", 1}, {"rtmp", 2}}));

  t.on(0, [r = a] { r->subscription.reset(); });
  t.on(1, [r = c] { r->subscription.reset(); });
  t.groups.run_until_idle();
  streams = collect_on(t, 1);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].players, 1u);
  EXPECT_EQ(streams[0].players_by_protocol, (Counts{{"rtmp", 1}}));
  EXPECT_EQ(streams[0].video.frames, 3u);

  // Players waiting for a stream nobody publishes are listed, unpublished.
  auto [waiting, sw] = t.subscribe_on(1, SubscribeOptions{true, "rtmp"}, StreamKey{"live", "later"});
  ASSERT_TRUE(sw);
  streams = collect_on(t, 0);
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[1].key, (StreamKey{"live", "later"}));
  EXPECT_FALSE(streams[1].is_published);
  EXPECT_EQ(streams[1].players, 1u);
}

TEST(Streams, CollectSumsWhatSubscribersDeliveredOnEveryGroupIncludingThoseWhoLeft) {
  StreamTest t(with_grace(std::chrono::milliseconds(0)));
  Publisher& publisher = t.publisher_on(1);
  ASSERT_TRUE(t.on(1, [&] { return publisher.start(); }));
  auto [a, sa] = t.subscribe_on(0);
  auto [b, sb] = t.subscribe_on(0);
  auto [c, sc] = t.subscribe_on(1);
  ASSERT_TRUE(sa && sb && sc);
  t.on(0, [r = a] { r->subscription->count_delivery(1000, 0); });
  t.on(0, [r = b] {
    r->subscription->count_delivery(200, 3);
    r->subscription->count_delivery(30, 1);
  });
  t.on(1, [r = c] { r->subscription->count_delivery(4, 0); });
  t.groups.run_until_idle();

  std::vector<StreamStats> streams = collect_on(t, 0);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].delivered.bytes_sent, 1234u);
  EXPECT_EQ(streams[0].delivered.frames_dropped, 4u);

  // b leaves; group 0 still has a player of the stream, so what b delivered still counts.
  t.on(0, [r = b] { r->subscription.reset(); });
  t.on(0, [r = a] { r->subscription->count_delivery(5000, 0); });
  t.groups.run_until_idle();
  streams = collect_on(t, 1);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].players, 2u);
  EXPECT_EQ(streams[0].delivered.bytes_sent, 6234u);
  EXPECT_EQ(streams[0].delivered.frames_dropped, 4u);
}

TEST(Streams, RefusedAdmissionDeniesNewSubscribersOnThatGroupUntilLifted) {
  StreamTest t(with_grace(std::chrono::milliseconds(0)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  auto [before, s0] = t.subscribe_on(1);
  ASSERT_TRUE(s0);
  t.on(1, [&] { t.groups[1].streams().set_admission("server busy: test"); });
  auto [refused, s1] = t.subscribe_on(1);
  EXPECT_EQ(s1.code(), Errc::denied);
  EXPECT_EQ(s1.message(), "server busy: test");
  auto [other_group, s2] = t.subscribe_on(0);  // admission is per group
  EXPECT_TRUE(s2) << s2.message();
  t.on(1, [&] { t.groups[1].streams().set_admission(""); });
  auto [after, s3] = t.subscribe_on(1);
  EXPECT_TRUE(s3) << s3.message();
  t.on(0, [&] { publisher.video("K1", true); });
  EXPECT_TRUE(t.wait_frames(1, before, 1));  // a subscriber admitted earlier kept its stream
}

TEST(Streams, StopAsksThePublishersModuleOnItsGroupAndAnswersTheCaller) {
  StreamTest t(with_grace(std::chrono::milliseconds(0)));
  Publisher& stoppable = t.publisher_on(1);
  Publisher& plain = t.publisher_on(1);
  std::string stopped_with;  // written on group 1, read after the answer came back
  ASSERT_TRUE(t.on(1, [&] {
    PublishOptions options;
    options.stop = [&](const Status& reason) {
      EXPECT_EQ(PollGroupImpl::current()->id(), 1u);
      stopped_with = reason.message();
      stoppable.publication.reset();  // the module ends the publication from inside the hook
    };
    auto result = stoppable.group.streams().publish(kKey, std::move(options));
    if (result) stoppable.publication = std::move(*result);
    return result ? ok() : result.error();
  }));
  ASSERT_TRUE(t.on(1, [&] { return plain.start(StreamKey{"live", "plain"}); }));
  auto stop = [&](const StreamKey& key) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    t.on(0, [&] {
      t.groups[0].streams().stop(key, error(Errc::denied, "operator"), [promise](Status s) { promise->set_value(s); });
    });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  };
  EXPECT_TRUE(stop(kKey));
  EXPECT_EQ(t.on(1, [&] { return stopped_with; }), "operator");
  EXPECT_FALSE(t.on(0, [&] { return t.groups[0].streams().is_published(kKey); }));
  EXPECT_EQ(stop(kKey).code(), Errc::not_found);
  Status unsupported = stop(StreamKey{"live", "plain"});
  EXPECT_EQ(unsupported.code(), Errc::unsupported);
  EXPECT_EQ(unsupported.message(), "the publisher of live/plain cannot be stopped by its module");
}

TEST(Streams, SecondPublisherOfTheSameKeyIsRefused) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& first = t.publisher_on(0);
  Publisher& second = t.publisher_on(1);
  Publisher& third = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return first.start(); }));
  Status other_group = t.on(1, [&] { return second.start(); });
  EXPECT_EQ(other_group.code(), Errc::exists);
  EXPECT_EQ(other_group.message(), "stream live/cam1 is already being published");
  EXPECT_EQ(t.on(0, [&] { return third.start(); }).code(), Errc::exists);
  EXPECT_TRUE(t.on(1, [&] { return t.groups[1].streams().is_published(kKey); }));
  // Once the first goes, the name is free.
  t.on(0, [&] { first.publication.reset(); });
  EXPECT_FALSE(t.on(1, [&] { return t.groups[1].streams().is_published(kKey); }));
  EXPECT_TRUE(t.on(1, [&] { return second.start(); }));
}

TEST(Streams, SubscribingToAMissingStreamFailsUnlessWaiting) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  auto [missing, status] = t.subscribe_on(1);
  EXPECT_EQ(status.code(), Errc::not_found);
  EXPECT_EQ(status.message(), "stream live/cam1 is not published");
  EXPECT_TRUE(t.on(1, [r = missing] { return r->subscription == nullptr; }));

  auto [remote, s1] = t.subscribe_on(1, SubscribeOptions{true});
  auto [local, s0] = t.subscribe_on(0, SubscribeOptions{true});
  ASSERT_TRUE(s1) << s1.message();
  ASSERT_TRUE(s0) << s0.message();
  EXPECT_FALSE(t.on(1, [r = remote] { return r->subscription->is_published(); }));

  Publisher& publisher = t.publisher_on(0);
  t.on(0, [&] {
    EXPECT_TRUE(publisher.start());
    publisher.video("K1", true);
  });
  t.on(0, [&] { publisher.video("P1"); });
  for (auto [g, r] : {std::pair{GroupId{1}, remote}, std::pair{GroupId{0}, local}}) {
    ASSERT_TRUE(t.wait_frames(g, r, 2)) << "group " << g;
    EXPECT_EQ(t.log_of(g, r), (std::vector<std::string>{"published", "K1", "P1"})) << "group " << g;
    EXPECT_TRUE(t.on(g, [r = r] { return r->subscription->is_published(); }));
  }
}

TEST(Streams, ADemandHookMakesSubscribersOfAKeyItWillPublishWaitAndIsAskedOnTheirGroup) {
  // Registrar::on_stream_demand as the server installs it: "live/cam1" is published on demand,
  // anything else is not.
  std::atomic<int> asked{0};
  std::atomic<int> asked_on_1{0};
  std::vector<Registrar::StreamDemand> demand{[&](PollGroup& group, const StreamKey& key, std::string_view source) {
    ++asked;
    if (group.id() == 1) ++asked_on_1;
    EXPECT_EQ(source, "");
    return key == kKey;
  }};
  TestGroupsOptions options = with_grace(std::chrono::milliseconds(5000));
  options.streams.demand = &demand;
  StreamTest t(std::move(options));

  auto [other, refused] = t.subscribe_on(1, SubscribeOptions{}, StreamKey{"live", "other"});
  EXPECT_EQ(refused.code(), Errc::not_found);
  auto [waiting, status] = t.subscribe_on(1);  // not waiting by its options: the hook makes it wait
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(asked.load(), 2);
  EXPECT_EQ(asked_on_1.load(), 2);

  Publisher& publisher = t.publisher_on(0);
  t.on(0, [&] {
    EXPECT_TRUE(publisher.start());
    publisher.video("K1", true);
  });
  ASSERT_TRUE(t.wait_frames(1, waiting, 1));
  EXPECT_EQ(t.log_of(1, waiting), (std::vector<std::string>{"published", "K1"}));
  // Published now: later subscribers do not ask the hook.
  auto [late, late_status] = t.subscribe_on(0);
  ASSERT_TRUE(late_status) << late_status.message();
  EXPECT_EQ(asked.load(), 2);
}

TEST(Streams, ASubscriptionsSourceReachesTheDemandHooksAndOneNoneTakesFailsNamingIt) {
  // An application's verdict named where to pull the stream from: the hook that pulls that
  // scheme takes it; a URL no module pulls is refused saying so.
  std::vector<std::string> sources;
  std::vector<Registrar::StreamDemand> demand{[&](PollGroup&, const StreamKey&, std::string_view source) {
    sources.emplace_back(source);
    return source.starts_with("rtsp://");
  }};
  TestGroupsOptions options = with_grace(std::chrono::milliseconds(5000));
  options.streams.demand = &demand;
  StreamTest t(std::move(options));

  SubscribeOptions pulled;
  pulled.source = "rtsp://camera/h264";
  auto [waiting, status] = t.subscribe_on(0, pulled, StreamKey{"live", "cam"});
  ASSERT_TRUE(status) << status.message();
  SubscribeOptions unknown;
  unknown.source = "srt://camera:9000";
  unknown.wait_for_publisher = true;  // a source nobody pulls is refused even so: nobody would come
  auto [refused, why] = t.subscribe_on(0, unknown, StreamKey{"live", "other"});
  EXPECT_EQ(why.code(), Errc::not_found);
  EXPECT_EQ(why.message(), "stream live/other is not published, and no module pulls srt://camera:9000");
  t.on(0, [&] { EXPECT_EQ(sources, (std::vector<std::string>{"rtsp://camera/h264", "srt://camera:9000"})); });
}

TEST(Streams, APublishedHookRunsOnThePublishersGroupAfterThePublishAndMaySubscribe) {
  // Registrar::on_stream_published as a recorder uses it: it subscribes from the hook.
  std::vector<std::pair<GroupId, std::string>> heard;
  std::vector<Registrar::StreamPublished> published{[&](PollGroup& group, const StreamKey& key) {
    heard.emplace_back(group.id(), key.to_string());
  }};
  TestGroupsOptions options = with_grace(std::chrono::milliseconds(5000));
  options.streams.published = &published;
  StreamTest t(std::move(options));
  Publisher& publisher = t.publisher_on(1);
  const bool inside = t.on(1, [&] {
    EXPECT_TRUE(publisher.start());
    return !heard.empty();
  });
  EXPECT_FALSE(inside) << "not inside publish()";
  ASSERT_TRUE(wait_until([&] { return t.on(1, [&] { return heard.size(); }) == 1u; }));
  t.on(1, [&] {
    EXPECT_EQ(heard[0], (std::pair<GroupId, std::string>{1, kKey.to_string()}));
    // Back within the grace period: not a new publication.
    publisher.publication.reset();
    EXPECT_TRUE(publisher.start());
  });
  // Each publish() is told, a return within the grace period too (the hook's module knows what
  // it already follows).
  EXPECT_TRUE(wait_until([&] { return t.on(1, [&] { return heard.size(); }) == 2u; }));
}

TEST(Streams, SubscribersHearUnpublishedOnlyAfterTheGracePeriod) {
  constexpr std::chrono::milliseconds kGrace{50};
  StreamTest t(with_grace(kGrace));
  Publisher& publisher = t.publisher_on(0);
  auto [remote, s1] = t.subscribe_on(1, SubscribeOptions{true});
  auto [local, s0] = t.subscribe_on(0, SubscribeOptions{true});
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  t.on(0, [&] { publisher.audio("A1"); });
  ASSERT_TRUE(t.wait_frames(1, remote, 1));
  Clock::time_point unpublished = t.on(0, [&] {
    Clock::time_point now = Clock::now();  // before the stop: every grace timer starts later
    publisher.publication.reset();
    return now;
  });
  for (auto [g, r] : {std::pair{GroupId{1}, remote}, std::pair{GroupId{0}, local}}) {
    ASSERT_TRUE(wait_until([&] { return t.on(g, [r = r] { return r->count("unpublished"); }) == 1u; })) << g;
    Clock::time_point heard = t.on(g, [r = r] { return r->unpublished_at; });
    EXPECT_GE(heard - unpublished, kGrace) << "group " << g;
    EXPECT_EQ(t.log_of(g, r), (std::vector<std::string>{"published", "A1", "unpublished"})) << "group " << g;
  }
}

TEST(Streams, PublisherReturningWithinTheGracePeriodResumesWithoutEvents) {
  constexpr std::chrono::milliseconds kGrace{200};
  StreamTest t(with_grace(kGrace));
  Publisher& publisher = t.publisher_on(0);
  auto [remote, s1] = t.subscribe_on(1, SubscribeOptions{true});
  auto [local, s0] = t.subscribe_on(0, SubscribeOptions{true});
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  t.on(0, [&] { publisher.audio("before"); });
  ASSERT_TRUE(t.wait_frames(1, remote, 1));
  ASSERT_TRUE(t.wait_frames(0, local, 1));
  t.on(0, [&] {
    publisher.publication.reset();
    EXPECT_TRUE(publisher.start());  // back at once: well within the grace period
    publisher.audio("after");
  });
  ASSERT_TRUE(t.wait_frames(1, remote, 2));
  ASSERT_TRUE(t.wait_frames(0, local, 2));
  // Look again once the grace period is over, from a timer due after any grace timer on that group.
  for (auto [g, r] : {std::pair{GroupId{1}, remote}, std::pair{GroupId{0}, local}}) {
    std::promise<std::vector<std::string>> seen;
    auto future = seen.get_future();
    std::unique_ptr<Timer> timer = t.on(g, [&, r = r] {
      return t.groups[g].after(kGrace + std::chrono::milliseconds(50), [&seen, r] { seen.set_value(r->log); });
    });
    ASSERT_EQ(future.wait_for(testing::kWaitLimit), std::future_status::ready);
    EXPECT_EQ(future.get(), (std::vector<std::string>{"published", "before", "after"})) << "group " << g;
    t.on(g, [&] { timer.reset(); });
  }
}

TEST(Streams, SubscriberLeavingDuringDeliveryDoesNotDisturbTheOthers) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  auto [leaver, s1] = t.subscribe_on(1);
  auto [stayer, s2] = t.subscribe_on(1);
  ASSERT_TRUE(s1 && s2);
  t.on(1, [r = leaver] { r->leave_after_first_batch = true; });
  t.groups.run_until_idle();
  t.on(0, [&] { publisher.audio("A1"); });
  ASSERT_TRUE(t.wait_frames(1, stayer, 1));
  t.on(0, [&] { publisher.audio("A2"); });
  ASSERT_TRUE(t.wait_frames(1, stayer, 2));
  EXPECT_EQ(t.frames_of(1, leaver), std::vector<std::string>{"A1"});
  EXPECT_EQ(t.frames_of(1, stayer), (std::vector<std::string>{"A1", "A2"}));
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return publisher.publication->subscriber_count(); }), 1u);
}

TEST(Streams, LastSubscriberLeavingReleasesItsGroupsTap) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  auto [remote, status] = t.subscribe_on(1);
  ASSERT_TRUE(status);
  t.groups.run_until_idle();
  t.on(0, [&] { publisher.audio("A1"); });
  ASSERT_TRUE(t.wait_frames(1, remote, 1));
  t.on(1, [r = remote] { r->subscription.reset(); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return publisher.publication->subscriber_count(); }), 0u);
  EXPECT_FALSE(t.on(1, [&] { return t.groups[1].streams_impl().find_tap(1) != nullptr; }));
  t.on(0, [&] { publisher.audio("A2"); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.frames_of(1, remote), std::vector<std::string>{"A1"});
}

TEST(Streams, ThePublisherHearsOnItsGroupWhenTheLastSubscriberOfAnyGroupLeaves) {
  StreamTest t(with_grace(std::chrono::milliseconds(0), 3));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  int heard = 0;  // group 0's
  t.on(0, [&] {
    publisher.publication->on_no_subscribers([&heard, group = &t.groups[0]] {
      EXPECT_EQ(PollGroupImpl::current(), group);
      ++heard;
    });
  });
  auto [local, s0] = t.subscribe_on(0);
  auto [remote1, s1] = t.subscribe_on(1);
  auto [remote2, s2] = t.subscribe_on(2);
  ASSERT_TRUE(s0 && s1 && s2);
  t.groups.run_until_idle();
  // Two of three leave (one on the publisher's group): nothing to hear.
  t.on(0, [r = local] { r->subscription.reset(); });
  t.on(1, [r = remote1] { r->subscription.reset(); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return heard; }), 0);
  // The last one, on another group.
  t.on(2, [r = remote2] { r->subscription.reset(); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return heard; }), 1);
  // A new subscriber and its leaving: once more, now from the publisher's own group.
  auto [again, s3] = t.subscribe_on(0);
  ASSERT_TRUE(s3);
  t.on(0, [r = again] { r->subscription.reset(); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return heard; }), 2);
}

TEST(Streams, TheCallbackMayEndThePublicationAndASubscriberBackInTimeSilencesIt) {
  StreamTest t(with_grace(std::chrono::milliseconds(0)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  int heard = 0;
  t.on(0, [&] {
    publisher.publication->on_no_subscribers([&] {
      ++heard;
      publisher.publication.reset();  // as a module that unpublishes when nobody watches
    });
  });
  auto [first, s1] = t.subscribe_on(1);
  ASSERT_TRUE(s1);
  t.groups.run_until_idle();
  // Group 0 is held while group 1's subscriber leaves and another subscribes: when the news
  // arrives, someone watches again.
  std::promise<void> release;
  std::promise<void> held;
  auto blocker = std::async(std::launch::async, [&] {
    t.on(0, [&] {
      held.set_value();
      release.get_future().wait();
    });
  });
  held.get_future().wait();
  t.on(1, [r = first] { r->subscription.reset(); });
  auto [second, s2] = t.subscribe_on(1);
  t.finish_turns(1);  // group 1's count (sent at the end of a turn) is on its way
  release.set_value();
  blocker.get();
  ASSERT_TRUE(s2);
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return heard; }), 0);
  t.on(1, [r = second] { r->subscription.reset(); });
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(0, [&] { return heard; }), 1);
  EXPECT_TRUE(t.on(0, [&] { return publisher.publication == nullptr; }));
  EXPECT_FALSE(t.on(1, [&] { return t.groups[1].streams().is_published(kKey); }));
}

TEST(Streams, FramePagesComeHomeWhenEveryoneIsDone) {
  TestGroupsOptions options = with_grace(std::chrono::milliseconds(0));
  {
    StreamTest t(options);
    Publisher& publisher = t.publisher_on(0);
    ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
    t.subscribe_on(1);
    t.groups.run_until_idle();
    t.on(0, [&] {
      publisher.video("K1", true);
      for (int i = 0; i < 100; ++i) publisher.video(std::string(3000, 'p'));
    });
    ASSERT_TRUE(t.wait_frames(1, t.recorders[0].second.get(), 101));
    // Tear down: subscribers, then the publisher and its writer.
    t.on(1, [&] {
      t.recorders[0].second->subscription.reset();
      t.recorders[0].second.reset();
    });
    t.on(0, [&] { t.publishers[0].second.reset(); });
    t.groups.run_until_idle();
    EXPECT_EQ(t.groups.pool_stats(0).pages_in_use, 0u);
    EXPECT_GT(t.groups.pool_stats(0).pages_high_water, 1u);
  }
}

TEST(Streams, JoinsAndLeavesAfterAGroupsFirstSubscriberTakeNoRegistryLock) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000), 3));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  for (GroupId g : {GroupId{0}, GroupId{1}, GroupId{2}}) ASSERT_TRUE(t.subscribe_on(g).second);
  t.groups.run_until_idle();
  const std::uint64_t locks = t.groups.stream_registry().lock_count();
  // A flash crowd on every group, most of which leaves again.
  std::vector<std::pair<GroupId, Recorder*>> crowd;
  for (int i = 0; i < 30; ++i)
    for (GroupId g : {GroupId{0}, GroupId{1}, GroupId{2}}) {
      auto [r, status] = t.subscribe_on(g);
      ASSERT_TRUE(status) << status.message();
      crowd.emplace_back(g, r);
    }
  for (std::size_t i = 0; i < crowd.size(); i += 3) {
    auto [g, r] = crowd[i];
    t.on(g, [r = r] { r->subscription.reset(); });
  }
  t.groups.run_until_idle();
  EXPECT_EQ(t.groups.stream_registry().lock_count(), locks);
  // The publisher's group summed the groups' counts: 3 first subscribers, 90 joined, 30 left.
  EXPECT_EQ(t.on(0, [&] { return publisher.publication->subscriber_count(); }), 63u);
}

// A connection that publishes two streams and plays the first, as chat clients, relays and test
// clients do. Its player fails on the first frames it gets (as one past its hard limit does), and
// the session then unpublishes everything at once, the way a protocol session does when its connection closes.
class PublishingPlayer final : public StreamSubscriber {
 public:
  explicit PublishingPlayer(PollGroupImpl& group) : first(group), second(group) {}
  ~PublishingPlayer() { playing.reset(); }
  void on_frames(std::span<const MediaFrame>) noexcept override { fail(); }
  void on_stream_event(StreamEvent) noexcept override {}
  void fail() {
    if (closing || closed) return;
    closing = true;
    first.publication.reset();
    second.publication.reset();
    closing = false;
    closed = true;
  }

  Publisher first;
  Publisher second;
  std::unique_ptr<Subscription> playing;
  bool closing = false;
  bool closed = false;
};

// Watches the second stream on the same group; notes a call that reaches it while the session
// is still inside its close (a fan-out from inside a publication's destructor).
class CloseWatcher final : public StreamSubscriber {
 public:
  explicit CloseWatcher(const PublishingPlayer& session) : session(session) {}
  void on_frames(std::span<const MediaFrame> frames) noexcept override {
    if (session.closing) called_while_closing = true;
    for (const MediaFrame& frame : frames) {
      auto bytes = frame.payload.to_vector();
      labels.emplace_back(bytes.begin(), bytes.end());
    }
  }
  void on_stream_event(StreamEvent) noexcept override {
    if (session.closing) called_while_closing = true;
  }

  const PublishingPlayer& session;
  std::unique_ptr<Subscription> subscription;
  std::vector<std::string> labels;
  bool called_while_closing = false;
};

TEST(Streams, APlayerFailingMidTurnMayEndPublicationsWhoseTurnHooksAreStillPending) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  const StreamKey second_key{"live", "second"};
  std::unique_ptr<PublishingPlayer> session;
  std::unique_ptr<CloseWatcher> watcher;
  t.on(0, [&] {
    session = std::make_unique<PublishingPlayer>(t.groups[0]);
    ASSERT_TRUE(session->first.start(kKey));
    ASSERT_TRUE(session->second.start(second_key));
    auto playing = t.groups[0].streams().subscribe(kKey, *session, {});
    ASSERT_TRUE(playing);
    session->playing = std::move(*playing);
    watcher = std::make_unique<CloseWatcher>(*session);
    auto watching = t.groups[0].streams().subscribe(second_key, *watcher, {});
    ASSERT_TRUE(watching);
    watcher->subscription = std::move(*watching);
  });
  t.groups.run_until_idle();
  // One turn: both publications ask for the end of the turn, the first one first. Its local
  // fan-out fails the player, which ends both publications while the second's hook is pending.
  t.on(0, [&] {
    session->first.audio("A1");
    session->second.audio("B1");
  });
  t.groups.run_until_idle();
  EXPECT_TRUE(t.on(0, [&] { return session->closed; }));
  EXPECT_FALSE(t.on(0, [&] { return t.groups[0].streams().is_published(kKey); }));
  EXPECT_FALSE(t.on(0, [&] { return t.groups[0].streams().is_published(second_key); }));
  // The second stream's last frame still went out, but not from inside the session's close.
  EXPECT_EQ(t.on(0, [&] { return watcher->labels; }), std::vector<std::string>{"B1"});
  EXPECT_FALSE(t.on(0, [&] { return watcher->called_while_closing; }));
  t.on(0, [&] {
    watcher.reset();
    session.reset();
  });
}

TEST(Streams, ALateJoinerGetsItsReplayBeforeLiveFramesAlreadyOnTheirWay) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  // Both groups' taps are started and keep a cache.
  auto [early_remote, s1] = t.subscribe_on(1);
  auto [early_local, s0] = t.subscribe_on(0);
  ASSERT_TRUE(s0 && s1);
  t.groups.run_until_idle();
  t.on(0, [&] {
    publisher.push("avc-header", MediaKind::video, FrameFlags{false, true, false});
    publisher.push("aac-header", MediaKind::audio, FrameFlags{false, true, false});
    publisher.video("K1", true);
    publisher.audio("A1");
  });
  t.groups.run_until_idle();
  const std::vector<std::string> replay{"avc-header", "aac-header", "K1", "A1"};

  // On another group: the join is queued on group 1 with a batch of live frames behind it, so
  // both run in one turn.
  std::promise<void> held;
  std::promise<void> release;
  auto blocker = std::async(std::launch::async, [&] {
    t.on(1, [&] {
      held.set_value();
      release.get_future().wait();
    });
  });
  held.get_future().wait();
  t.recorders.emplace_back(1, std::make_unique<Recorder>());
  Recorder* remote = t.recorders.back().second.get();
  std::promise<bool> joined;
  t.groups.groups().post(1, std::make_unique<FunctionTask>([&] {
    auto subscription = t.groups[1].streams().subscribe(kKey, *remote, {});
    if (subscription) remote->subscription = std::move(*subscription);
    joined.set_value(subscription.has_value());
  }));
  t.on(0, [&] {
    publisher.audio("A2");
    publisher.video("P2");
  });
  t.finish_turns(0);  // group 0's batch is queued on group 1, behind the join
  release.set_value();
  blocker.get();
  ASSERT_TRUE(joined.get_future().get());

  // On the publisher's group: frames pushed earlier in the same turn as the join.
  Recorder* local = t.on(0, [&] {
    publisher.audio("A3");
    t.recorders.emplace_back(0, std::make_unique<Recorder>());
    Recorder* r = t.recorders.back().second.get();
    auto subscription = t.groups[0].streams().subscribe(kKey, *r, {});
    if (subscription) r->subscription = std::move(*subscription);
    return r;
  });

  std::vector<std::string> remote_expected = replay;
  remote_expected.insert(remote_expected.end(), {"A2", "P2", "A3"});
  std::vector<std::string> local_expected = replay;
  local_expected.insert(local_expected.end(), {"A2", "P2", "A3"});
  ASSERT_TRUE(t.wait_frames(1, remote, remote_expected.size()));
  ASSERT_TRUE(t.wait_frames(0, local, local_expected.size()));
  t.groups.run_until_idle();
  EXPECT_EQ(t.on(1, [r = remote] { return r->batches.front(); }), replay);
  EXPECT_EQ(t.frames_of(1, remote), remote_expected);
  // The local joiner's replay already holds A2 and P2 (they were in the cache), then A3.
  std::vector<std::string> local_replay = replay;
  local_replay.insert(local_replay.end(), {"A2", "P2"});
  EXPECT_EQ(t.on(0, [r = local] { return r->batches.front(); }), local_replay);
  EXPECT_EQ(t.frames_of(0, local), local_expected);
  for (auto [g, r] : {std::pair{GroupId{1}, remote}, std::pair{GroupId{0}, local}}) {
    std::vector<std::int64_t> dts = t.on(g, [r = r] { return r->dts; });
    EXPECT_TRUE(std::is_sorted(dts.begin(), dts.end())) << "group " << g;
  }
}

TEST(Streams, JoinersWhileFramesFlowFastStartWithHeadersAndAKeyFrameAndNeverGoBack) {
  StreamTest t(with_grace(std::chrono::milliseconds(5000)));
  Publisher& publisher = t.publisher_on(0);
  ASSERT_TRUE(t.on(0, [&] { return publisher.start(); }));
  auto [early, s0] = t.subscribe_on(1);
  ASSERT_TRUE(s0);
  t.on(0, [&] {
    publisher.push("avc-header", MediaKind::video, FrameFlags{false, true, false});
    publisher.push("aac-header", MediaKind::audio, FrameFlags{false, true, false});
    publisher.video("K", true);
  });
  t.groups.run_until_idle();
  // A feeder thread keeps group 0 pushing, a frame or two per turn, a key frame every 8.
  std::atomic<bool> feeding{true};
  auto feeder = std::async(std::launch::async, [&] {
    for (int i = 1; feeding.load(); ++i)
      t.on(0, [&, i] {
        publisher.audio("A");
        if (i % 8 == 0) publisher.video("K", true);
        else publisher.video("P");
      });
  });
  std::vector<std::pair<GroupId, Recorder*>> joiners;
  for (int i = 0; i < 40; ++i) {
    GroupId g = static_cast<GroupId>(i % 2);
    auto [r, status] = t.subscribe_on(g);
    ASSERT_TRUE(status);
    joiners.emplace_back(g, r);
  }
  feeding = false;
  feeder.get();
  t.groups.run_until_idle();
  for (auto [g, r] : joiners) {
    auto [labels, dts] = t.on(g, [r = r] { return std::pair{r->frame_labels, r->dts}; });
    ASSERT_GE(labels.size(), 3u);
    EXPECT_EQ(labels[0], "avc-header") << "group " << g;
    EXPECT_EQ(labels[1], "aac-header") << "group " << g;
    EXPECT_EQ(labels[2], "K") << "group " << g;
    EXPECT_TRUE(std::is_sorted(dts.begin(), dts.end())) << "group " << g;
  }
}

}  // namespace
}  // namespace weir::kernel
