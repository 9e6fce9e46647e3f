// SPDX-License-Identifier: Apache-2.0
#pragma once
// A poll group's page pool. Allocation and the free list belong to the owning group's thread (no
// lock). A page whose last reference drops on another thread travels home in that thread's
// end-of-turn batch (ReturnPages), or in a task of its own from a thread that is not a poll group.

#include <cstdint>
#include <vector>

#include "weir/owner.h"
#include "weir/pages.h"
#include "weir/poll_group.h"

namespace weir::kernel {

class PollGroupImpl;

class PagePoolImpl final : public PagePool, public PageHome {
 public:
  /// `max_pages` bounds the pool: past it allocate() fails (backpressure).
  PagePoolImpl(std::uint32_t page_size, std::uint64_t max_pages, PollGroupImpl* group);
  ~PagePoolImpl();
  PagePoolImpl(const PagePoolImpl&) = delete;
  PagePoolImpl& operator=(const PagePoolImpl&) = delete;

  PageRef allocate() noexcept override;
  std::uint32_t page_size() const noexcept override { return page_size_; }
  PagePoolStats stats() const noexcept override;

  void release(Page* page) noexcept override;  // any thread
  /// Takes back pages released elsewhere. Owner thread.
  void take_home(const std::vector<Page*>& pages) noexcept;
  /// Frees spare pages beyond `keep`. Owner thread.
  void trim(std::uint64_t keep) noexcept;
  /// Frees the spare pages the period since the previous call did not need: all but `spare`
  /// above the most in use at once during it (so memory goes back to the system once a burst is
  /// over and a quiet period passed), and starts a new period. Returns how many it freed. Owner
  /// thread; the group calls it from a timer (GroupSettings::page_trim_interval).
  std::uint64_t trim_idle(std::uint64_t spare) noexcept;
  GroupId home_group() const noexcept;
  /// The owning thread changes (a group starts its thread, or the main thread drains at exit).
  void rebind_owner() noexcept { owner_.rebind(); }

 private:
  void put_free(Page* page) noexcept;

  ThreadOwner owner_;
  const std::uint32_t page_size_;
  const std::uint64_t max_pages_;
  PollGroupImpl* group_;  // null for a pool that belongs to no group (tests, tools)
  Page* free_ = nullptr;
  std::uint64_t free_count_ = 0;
  std::uint64_t allocated_ = 0;
  std::uint64_t in_use_ = 0;
  std::uint64_t high_water_ = 0;
  std::uint64_t period_peak_ = 0;  // most in use at once since the last trim_idle(); <= high_water_
  std::uint64_t failures_ = 0;
};

}  // namespace weir::kernel
