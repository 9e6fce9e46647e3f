// SPDX-License-Identifier: Apache-2.0
#pragma once
// The stream registry: which key has a publisher (on which group) and which groups have taps
// (local subscriber lists) for it. Touched only on control events (publish, unpublish, first and
// last subscriber of a group), never per frame nor per later join or leave; a mutex keeps it
// simple and correct there. Subscriber counts are not here: each tap counts its own group's, and
// the publisher's group sums the counts its taps send it (streams.h), so a crowd of joins on
// every group takes no common lock.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "weir/poll_group.h"
#include "weir/status.h"
#include "weir/stream.h"

namespace weir::kernel {

using StreamId = std::uint64_t;

class StreamRegistry {
 public:
  explicit StreamRegistry(GroupId groups) : groups_(groups) {}

  struct Claim {
    StreamId id;
    std::uint64_t epoch;  // increases with each publication: orders messages from successive publishers
    std::vector<GroupId> tap_groups;  // groups that already have subscribers waiting
  };
  /// Makes `group` the publisher of `key`; Errc::exists if someone else publishes it.
  Result<Claim> claim(const StreamKey& key, GroupId group);
  void release(StreamId id);

  struct TapInfo {
    StreamId id;
    std::optional<GroupId> publisher;  // to tell it about the new tap
  };
  TapInfo add_tap(const StreamKey& key, GroupId group);
  /// Returns the publisher's group, if any, to tell it the tap is gone.
  std::optional<GroupId> remove_tap(StreamId id, GroupId group);

  bool is_published(const StreamKey& key) const;
  std::optional<GroupId> publisher_of(const StreamKey& key) const;
  /// How many times the mutex was taken, for tests that check who takes it. Any thread.
  std::uint64_t lock_count() const noexcept { return lock_count_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    StreamId id;
    std::string key;
    std::optional<GroupId> publisher;
    std::vector<std::uint32_t> taps;  // per group: 0 or 1
  };
  Entry* by_id(StreamId id);
  Entry& entry_for(const StreamKey& key);  // found or created; mutex_ held
  void erase_if_unused(Entry& entry);
  std::unique_lock<std::mutex> lock() const;

  const GroupId groups_;
  mutable std::mutex mutex_;
  mutable std::atomic<std::uint64_t> lock_count_{0};
  StreamId next_id_ = 1;
  std::uint64_t next_epoch_ = 1;
  std::unordered_map<std::string, Entry> by_key_;
  std::unordered_map<StreamId, std::string> keys_;
};

}  // namespace weir::kernel
