// SPDX-License-Identifier: Apache-2.0
#include "stream/registry.h"

namespace weir::kernel {

std::unique_lock<std::mutex> StreamRegistry::lock() const {
  lock_count_.fetch_add(1, std::memory_order_relaxed);
  return std::unique_lock(mutex_);
}

StreamRegistry::Entry* StreamRegistry::by_id(StreamId id) {
  auto key = keys_.find(id);
  if (key == keys_.end()) return nullptr;
  return &by_key_.at(key->second);
}

void StreamRegistry::erase_if_unused(Entry& entry) {
  if (entry.publisher) return;
  for (std::uint32_t tap : entry.taps)
    if (tap) return;
  keys_.erase(entry.id);
  by_key_.erase(entry.key);  // invalidates `entry`
}

StreamRegistry::Entry& StreamRegistry::entry_for(const StreamKey& key) {
  std::string text = key.to_string();
  auto [it, inserted] = by_key_.try_emplace(text);
  Entry& entry = it->second;
  if (inserted) {
    entry.id = next_id_++;
    entry.key = text;
    entry.taps.assign(groups_, 0);
    keys_.emplace(entry.id, text);
  }
  return entry;
}

Result<StreamRegistry::Claim> StreamRegistry::claim(const StreamKey& key, GroupId group) {
  auto held = lock();
  Entry& entry = entry_for(key);
  const std::string& text = entry.key;
  if (entry.publisher) return error(Errc::exists, "stream {} is already being published", text);
  entry.publisher = group;
  Claim claim{entry.id, next_epoch_++, {}};
  for (GroupId g = 0; g < groups_; ++g)
    if (entry.taps[g]) claim.tap_groups.push_back(g);
  return claim;
}

void StreamRegistry::release(StreamId id) {
  auto held = lock();
  if (Entry* entry = by_id(id)) {
    entry->publisher.reset();
    erase_if_unused(*entry);
  }
}

StreamRegistry::TapInfo StreamRegistry::add_tap(const StreamKey& key, GroupId group) {
  auto held = lock();
  Entry& entry = entry_for(key);
  entry.taps[group] = 1;
  return TapInfo{entry.id, entry.publisher};
}

std::optional<GroupId> StreamRegistry::remove_tap(StreamId id, GroupId group) {
  auto held = lock();
  Entry* entry = by_id(id);
  if (!entry) return std::nullopt;
  entry->taps[group] = 0;
  std::optional<GroupId> publisher = entry->publisher;
  erase_if_unused(*entry);
  return publisher;
}

std::optional<GroupId> StreamRegistry::publisher_of(const StreamKey& key) const {
  auto held = lock();
  auto it = by_key_.find(key.to_string());
  return it == by_key_.end() ? std::nullopt : it->second.publisher;
}

bool StreamRegistry::is_published(const StreamKey& key) const {
  auto held = lock();
  auto it = by_key_.find(key.to_string());
  return it != by_key_.end() && it->second.publisher.has_value();
}

}  // namespace weir::kernel
