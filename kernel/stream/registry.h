// SPDX-License-Identifier: Apache-2.0
#pragma once
// The stream registry: which key has a publisher (on which group) and which groups have taps
// (local subscriber lists) for it. Touched only on control events (publish, unpublish, first and
// last subscriber of a group), never per frame; a mutex keeps it simple and correct there.

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

  /// Adds `delta` to the subscriber count of `id`. When that makes it 0 and the stream has a
  /// publisher, returns the publisher's group (to tell it nobody watches any more).
  std::optional<GroupId> count_subscribers(StreamId id, std::int64_t delta);
  std::uint64_t subscribers(StreamId id) const;
  bool is_published(const StreamKey& key) const;
  std::optional<GroupId> publisher_of(const StreamKey& key) const;

 private:
  struct Entry {
    StreamId id;
    std::string key;
    std::optional<GroupId> publisher;
    std::vector<std::uint32_t> taps;  // per group: 0 or 1
    std::uint64_t subscribers = 0;
  };
  Entry* by_id(StreamId id);
  Entry& entry_for(const StreamKey& key);  // found or created; mutex_ held
  void erase_if_unused(Entry& entry);

  const GroupId groups_;
  mutable std::mutex mutex_;
  StreamId next_id_ = 1;
  std::uint64_t next_epoch_ = 1;
  std::unordered_map<std::string, Entry> by_key_;
  std::unordered_map<StreamId, std::string> keys_;
};

}  // namespace weir::kernel
