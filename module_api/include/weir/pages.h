// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Pages: fixed-size, reference-counted blocks that hold media and wire bytes. Many small messages
/// share one page; a message is a chain of slices (page, offset, length). Pages cross threads by
/// reference, never by copy, and go back to the pool of the poll group that owns them.
///
///   PagePool (one per poll group)
///     |  allocate()
///     v
///   +--------+----------------------------------------------+
///   | header | msg A | msg B | msg C ...            (free)   |   one Page, refs = 3
///   +--------+----------------------------------------------+
///              ^        ^       ^
///   PageSlice{page,0,n} |       PageSlice{page,off,len}       held by senders, caches, frames
///
/// Sealed bytes are never written again: a writer appends after what it has handed out.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace weir {

struct Page;

/// Where a page goes when its last reference drops. Implemented by the kernel's pools.
class PageHome {
 public:
  /// Called on whichever thread dropped the last reference. Any thread.
  virtual void release(Page* page) noexcept = 0;

 protected:
  ~PageHome() = default;
};

/// A page header; `capacity` bytes of data follow it. Created only by a pool.
struct alignas(std::max_align_t) Page {
  std::atomic<std::uint32_t> refs{0};
  std::uint32_t capacity = 0;
  PageHome* home = nullptr;
  Page* next_free = nullptr;  ///< free-list link, used by the home pool only

  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
};
static_assert(sizeof(Page) % alignof(std::max_align_t) == 0, "page data must stay aligned");

/// A counted reference to a page. Copying adds a reference (atomic, relaxed); the last one to go
/// returns the page home. Any thread may hold and drop one.
class PageRef {
 public:
  PageRef() noexcept = default;
  /// Adopts a page that already carries one reference for us (used by pools).
  static PageRef adopt(Page* page) noexcept {
    PageRef ref;
    ref.page_ = page;
    return ref;
  }
  PageRef(const PageRef& other) noexcept : page_(other.page_) {
    if (page_) page_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  PageRef(PageRef&& other) noexcept : page_(std::exchange(other.page_, nullptr)) {}
  PageRef& operator=(PageRef other) noexcept {
    std::swap(page_, other.page_);
    return *this;
  }
  ~PageRef() { reset(); }

  void reset() noexcept {
    if (!page_) return;
    Page* page = std::exchange(page_, nullptr);
    // acq_rel: every write to the page happens-before its reuse by the home pool.
    if (page->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) page->home->release(page);
  }
  Page* get() const noexcept { return page_; }
  explicit operator bool() const noexcept { return page_ != nullptr; }
  std::uint32_t capacity() const noexcept { return page_ ? page_->capacity : 0; }
  friend bool operator==(const PageRef& a, const PageRef& b) noexcept { return a.page_ == b.page_; }

 private:
  Page* page_ = nullptr;
};

/// A run of bytes inside one page, keeping the page alive.
struct PageSlice {
  PageRef page;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;

  std::span<const std::byte> bytes() const noexcept {
    return {page.get()->data() + offset, length};
  }
  const std::uint8_t* data() const noexcept {
    return reinterpret_cast<const std::uint8_t*>(page.get()->data() + offset);
  }
  /// A view of [from, from+count) of this slice, sharing the page.
  PageSlice sub(std::uint32_t from, std::uint32_t count) const noexcept {
    return PageSlice{page, offset + from, count};
  }
};

/// A message's bytes: slices in order, usually one. Copying shares the pages. Up to kInline
/// slices live inside the chain, so copying a frame (each tap's GOP cache, every joiner's replay)
/// allocates nothing; a longer chain (a message spanning more pages) moves to the heap.
class PageChain {
 public:
  static constexpr std::uint32_t kInline = 2;

  PageChain() noexcept = default;
  explicit PageChain(PageSlice slice) { append(std::move(slice)); }
  PageChain(const PageChain& other) { append(other); }
  PageChain(PageChain&& other) noexcept { take(other); }
  PageChain& operator=(const PageChain& other) {
    if (this != &other) {
      clear();
      append(other);
    }
    return *this;
  }
  PageChain& operator=(PageChain&& other) noexcept {
    if (this != &other) {
      clear();
      free_heap();
      take(other);
    }
    return *this;
  }
  ~PageChain() {
    clear();
    free_heap();
  }

  void append(PageSlice slice) {
    if (!slice.length) return;
    if (count_ == capacity_) grow();
    size_ += slice.length;
    new (items() + count_) PageSlice(std::move(slice));
    ++count_;
  }
  void append(const PageChain& other) {
    for (const PageSlice& s : other.slices()) append(s);
  }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size() == 0; }
  std::span<const PageSlice> slices() const noexcept { return {items(), count_}; }
  /// Drops the slices (and their references); keeps any heap room for reuse.
  void clear() noexcept {
    PageSlice* at = items();
    for (std::uint32_t i = 0; i < count_; ++i) at[i].~PageSlice();
    count_ = 0;
    size_ = 0;
  }
  /// Copies the bytes out (tests, small headers); never on the media path.
  std::vector<std::uint8_t> to_vector() const {
    std::vector<std::uint8_t> out;
    out.reserve(size());
    for (const PageSlice& s : slices()) out.insert(out.end(), s.data(), s.data() + s.length);
    return out;
  }
  /// Copies bytes [from, from+out.size()) into out; returns how many were available.
  std::size_t copy_out(std::size_t from, std::span<std::uint8_t> out) const noexcept {
    std::size_t done = 0;
    for (const PageSlice& s : slices()) {
      if (done == out.size()) break;
      if (from >= s.length) {
        from -= s.length;
        continue;
      }
      std::size_t n = std::min<std::size_t>(s.length - from, out.size() - done);
      std::memcpy(out.data() + done, s.data() + from, n);
      done += n;
      from = 0;
    }
    return done;
  }

 private:
  PageSlice* items() noexcept { return heap_ ? heap_ : reinterpret_cast<PageSlice*>(inline_); }
  const PageSlice* items() const noexcept {
    return heap_ ? heap_ : reinterpret_cast<const PageSlice*>(inline_);
  }
  // Moves the slices to a heap array twice as large.
  void grow() {
    std::uint32_t capacity = capacity_ * 2;
    auto* bigger = static_cast<PageSlice*>(::operator new(capacity * sizeof(PageSlice)));
    PageSlice* from = items();
    for (std::uint32_t i = 0; i < count_; ++i) {
      new (bigger + i) PageSlice(std::move(from[i]));
      from[i].~PageSlice();
    }
    free_heap();
    heap_ = bigger;
    capacity_ = capacity;
  }
  void free_heap() noexcept {
    if (!heap_) return;
    ::operator delete(heap_);
    heap_ = nullptr;
    capacity_ = kInline;
  }
  // Takes other's slices, leaving it empty; this chain is empty with no heap room.
  void take(PageChain& other) noexcept {
    if (other.heap_) {
      heap_ = std::exchange(other.heap_, nullptr);
      capacity_ = std::exchange(other.capacity_, kInline);
    } else {
      auto* to = reinterpret_cast<PageSlice*>(inline_);
      auto* from = reinterpret_cast<PageSlice*>(other.inline_);
      for (std::uint32_t i = 0; i < other.count_; ++i) {
        new (to + i) PageSlice(std::move(from[i]));
        from[i].~PageSlice();
      }
    }
    count_ = std::exchange(other.count_, 0);
    size_ = std::exchange(other.size_, 0);
  }

  alignas(PageSlice) std::byte inline_[kInline * sizeof(PageSlice)];
  PageSlice* heap_ = nullptr;
  std::uint32_t count_ = 0;
  std::uint32_t capacity_ = kInline;
  std::size_t size_ = 0;
};

/// Statistics of one pool.
struct PagePoolStats {
  std::uint64_t page_size = 0;
  std::uint64_t pages_allocated = 0;  ///< pages that exist (in use + free)
  std::uint64_t pages_in_use = 0;
  std::uint64_t pages_high_water = 0;  ///< most pages in use at once
  std::uint64_t pages_max = 0;         ///< the limit: beyond it allocate() fails (backpressure)
  std::uint64_t allocation_failures = 0;
};

/// A poll group's page pool. Thread: the owning poll group only (allocate); references to its
/// pages may be dropped anywhere and come home by message.
class PagePool {
 public:
  /// A fresh page with one reference, or an empty PageRef when the pool is at its limit:
  /// the caller treats that as backpressure (stop reading), never as a crash.
  virtual PageRef allocate() noexcept = 0;
  virtual std::uint32_t page_size() const noexcept = 0;
  virtual PagePoolStats stats() const noexcept = 0;

 protected:
  ~PagePool() = default;
};

/// Packs bytes into pages of one pool, one after another; what it hands out is sealed.
/// Thread: the pool's poll group. Used for media payloads (copy once on ingest) and framing bytes.
class PageWriter {
 public:
  explicit PageWriter(PagePool& pool) noexcept : pool_(&pool) {}

  /// Copies `bytes` into pages and returns them as a chain (several slices when it spans pages).
  /// Fails (returns false, out untouched) when the pool is exhausted.
  bool append(std::span<const std::byte> bytes, PageChain& out) noexcept {
    PageChain chain;
    std::size_t done = 0;
    while (done < bytes.size()) {
      if (!ensure_room()) return false;
      std::size_t n = std::min<std::size_t>(bytes.size() - done, current_.capacity() - used_);
      std::memcpy(current_.get()->data() + used_, bytes.data() + done, n);
      chain.append(PageSlice{current_, used_, static_cast<std::uint32_t>(n)});
      used_ += static_cast<std::uint32_t>(n);
      done += n;
    }
    out.append(chain);
    return true;
  }
  bool append(std::span<const std::uint8_t> bytes, PageChain& out) noexcept {
    return append(std::as_bytes(bytes), out);
  }

  /// Reserves `size` contiguous bytes in one page (size <= page size) and returns a writable
  /// pointer and the slice that will hold them. The caller fills them before sharing the slice.
  std::byte* reserve(std::uint32_t size, PageSlice& slice) noexcept {
    if (size > pool_->page_size()) return nullptr;
    if (!current_ || current_.capacity() - used_ < size) {
      current_ = pool_->allocate();
      used_ = 0;
      if (!current_) return nullptr;
    }
    std::byte* at = current_.get()->data() + used_;
    slice = PageSlice{current_, used_, size};
    used_ += size;
    return at;
  }

  /// Drops the current page (its unused tail is wasted); the next write starts a fresh page.
  void reset() noexcept {
    current_.reset();
    used_ = 0;
  }

 private:
  bool ensure_room() noexcept {
    if (current_ && used_ < current_.capacity()) return true;
    current_ = pool_->allocate();
    used_ = 0;
    return static_cast<bool>(current_);
  }

  PagePool* pool_;
  PageRef current_;
  std::uint32_t used_ = 0;
};

}  // namespace weir
