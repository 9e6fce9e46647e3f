// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtmpGroup: mod_rtmp's state on one poll group. Owns what sessions of that group share: the
// page writer that ingests publishers' payloads, and the framing cache that lets every player of
// the group send the same chunk headers for a frame (built once, shared as page slices).

#include <array>
#include <cstdint>
#include <span>

#include "formats/rtmp/chunk_writer.h"
#include "rtmp_config.h"
#include "weir/services/apps.h"
#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/stats.h"
#include "weir/stream.h"

namespace weir::rtmp {

/// Counters mod_rtmp registers (ids into each group's Stats).
struct RtmpCounters {
  CounterId connections = 0;
  CounterId publishes = 0;
  CounterId plays = 0;
  CounterId frames_in = 0;
  CounterId frames_out = 0;
  CounterId frames_dropped = 0;
  CounterId slow_players_closed = 0;
  CounterId protocol_errors = 0;
};

/// A frame's chunk framing as one player built it, kept so that the next players whose framing is
/// byte-identical send these slices instead of writing their own headers.
///   chain: [first header][payload piece][continuation header][payload piece]...
struct SharedFraming {
  const Page* page = nullptr;  // identity of the frame: its payload's first slice
  std::uint32_t offset = 0;
  std::uint8_t header_size = 0;
  std::array<std::uint8_t, 18> header{};
  std::uint8_t continuation_size = 0;
  std::array<std::uint8_t, 7> continuation{};
  PageChain chain;
};

class RtmpGroup {
 public:
  /// `apps`: the apps service (server-side applications), or null when no module provides it.
  RtmpGroup(PollGroup& group, const RtmpConfig* config, const RtmpCounters* counters, AppsService* apps);

  PollGroup& poll_group() noexcept { return poll_group_; }
  const RtmpConfig& config() const noexcept { return *config_; }
  const RtmpCounters& counters() const noexcept { return *counters_; }
  /// The group's counters, held here: PollGroup::stats() is a virtual call, and players count
  /// on the fan-out path. The group's Stats lives as long as the group, so longer than we do.
  Stats& stats() noexcept { return stats_; }
  PageWriter& ingest() noexcept { return ingest_; }
  PageWriter& framing() noexcept { return framing_; }
  /// Whether `app` defines `hook` (false without the apps service): checked once per control
  /// point, so that an app without a script costs nothing.
  bool has_hook(std::string_view app, AppHook hook, std::string_view method = {}) const noexcept {
    return apps_ && apps_->has_hook(poll_group_, app, hook, method);
  }
  AppsService& apps() noexcept { return *apps_; }

  /// The shared framing of the frame whose payload starts at (page, offset) with these headers,
  /// or null. Only byte-identical headers match, so sharing can never change what a player gets.
  const SharedFraming* find_framing(const MediaFrame& frame, std::span<const std::uint8_t> header,
                                    std::span<const std::uint8_t> continuation) const noexcept;
  /// Remembers a framing a player just built (evicting the oldest of a small ring); returns it.
  const SharedFraming& remember_framing(SharedFraming framing);

  /// The fast path of the common case, most players of a group in step: the framing the last
  /// player used for this frame, if this player's chunk state differs from that player's only in
  /// its own timeline (the absolute timestamp) and its timestamp advances by the same delta, so
  /// that its headers would be the same bytes. Then `state` is advanced as framing would have
  /// advanced it, and nothing is framed or compared byte by byte.
  const SharedFraming* reuse_framing(const MediaFrame& frame, formats::rtmp::ChunkStreamState& state,
                                     std::uint32_t timestamp) const noexcept;
  /// After a player framed `frame` from `before` to `after` (type 1, 2 or 3 headers) and sent
  /// `shared`: the next player in the same state reuses it (reuse_framing()).
  void remember_step(const MediaFrame& frame, const formats::rtmp::ChunkStreamState& before,
                     const formats::rtmp::ChunkStreamState& after, const SharedFraming& shared) noexcept;

 private:
  PollGroup& poll_group_;
  Stats& stats_;
  const RtmpConfig* config_;
  const RtmpCounters* counters_;
  AppsService* apps_;
  PageWriter ingest_;
  PageWriter framing_;
  // A batch rarely holds more than a few frames, and players walk them in the same order: a
  // small ring scanned newest first finds the entry in one or two steps.
  static constexpr std::size_t kRing = 32;
  std::array<SharedFraming, kRing> ring_;
  std::size_t next_ = 0;
  // The last step remember_step() saw; `shared` points into ring_ (cleared when that slot is reused).
  struct Step {
    const SharedFraming* shared = nullptr;
    formats::rtmp::ChunkStreamState before;  // previous.timestamp not compared
    formats::rtmp::ChunkStreamState after;   // previous.timestamp set per player
    std::uint32_t delta = 0;
  };
  Step step_;
};

}  // namespace weir::rtmp
