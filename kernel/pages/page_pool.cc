// SPDX-License-Identifier: Apache-2.0
#include "pages/page_pool.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "poll_group/poll_group.h"

namespace weir::kernel {

PagePoolImpl::PagePoolImpl(std::uint32_t page_size, std::uint64_t max_pages, PollGroupImpl* group)
    : page_size_(page_size), max_pages_(max_pages), group_(group) {}

PagePoolImpl::~PagePoolImpl() {
  // Pages still referenced elsewhere at shutdown are leaked on purpose: the process is exiting and
  // they may be freed on another thread after this pool is gone.
  trim(0);
}

PageRef PagePoolImpl::allocate() noexcept {
  owner_.check();
  Page* page = free_;
  if (page) {
    free_ = page->next_free;
    --free_count_;
  } else {
    if (allocated_ >= max_pages_) {
      ++failures_;
      return PageRef();
    }
    void* memory = std::aligned_alloc(alignof(std::max_align_t), sizeof(Page) + page_size_);
    if (!memory) std::abort();  // allocation failure is fatal; an empty pool is backpressure
    page = new (memory) Page();
    page->capacity = page_size_;
    page->home = this;
    ++allocated_;
  }
  page->next_free = nullptr;
  page->refs.store(1, std::memory_order_relaxed);
  // One compare as before on the common path: the period's peak is at most the high water.
  if (++in_use_ > period_peak_) {
    period_peak_ = in_use_;
    if (in_use_ > high_water_) high_water_ = in_use_;
  }
  return PageRef::adopt(page);
}

void PagePoolImpl::release(Page* page) noexcept {
  PollGroupImpl* here = PollGroupImpl::current();
  if (group_ == nullptr || here == group_) {
    put_free(page);
  } else if (here != nullptr) {
    here->return_page_later(group_->id(), page);  // goes home in this turn's batch
  } else {
    group_->return_page_from_outside(page);
  }
}

void PagePoolImpl::take_home(const std::vector<Page*>& pages) noexcept {
  for (Page* page : pages) put_free(page);
}

void PagePoolImpl::put_free(Page* page) noexcept {
  owner_.check();
  page->next_free = free_;
  free_ = page;
  ++free_count_;
  --in_use_;
}

void PagePoolImpl::trim(std::uint64_t keep) noexcept {
  while (free_ && free_count_ > keep) {
    Page* page = free_;
    free_ = page->next_free;
    --free_count_;
    --allocated_;
    page->~Page();
    std::free(page);
  }
}

std::uint64_t PagePoolImpl::trim_idle(std::uint64_t spare) noexcept {
  owner_.check();
  std::uint64_t needed = std::max(period_peak_, in_use_) + spare;
  std::uint64_t freed = 0;
  if (allocated_ > needed) {
    std::uint64_t before = allocated_;
    trim(free_count_ - std::min(free_count_, allocated_ - needed));
    freed = before - allocated_;
  }
  period_peak_ = in_use_;
#if defined(__GLIBC__)
  // Pages are below malloc's mmap threshold: without this, freed pages amid live ones stay in
  // the process (a thread arena shrinks only from its top). Runs only after a period that freed
  // pages, never on the media path.
  if (freed > 0) malloc_trim(0);
#endif
  return freed;
}

PagePoolStats PagePoolImpl::stats() const noexcept {
  PagePoolStats s;
  s.page_size = page_size_;
  s.pages_allocated = allocated_;
  s.pages_in_use = in_use_;
  s.pages_high_water = high_water_;
  s.pages_max = max_pages_;
  s.allocation_failures = failures_;
  return s;
}

GroupId PagePoolImpl::home_group() const noexcept { return group_ ? group_->id() : 0; }

}  // namespace weir::kernel
