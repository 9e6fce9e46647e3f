// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// ThreadOwner: a debug check that a thread-confined object is used only by its owner thread.

#include <cassert>
#include <thread>

namespace weir {

/// Remembers the thread that first used (or was bound to) an object; check() asserts it stays so.
/// Free in release builds. Thread-confined classes hold one as `owner_` and call owner_.check()
/// at public entry points.
class ThreadOwner {
 public:
  /// Binds to the calling thread if not bound yet, then asserts the caller is the owner.
  void check() const noexcept {
#ifndef NDEBUG
    if (owner_ == std::thread::id()) owner_ = std::this_thread::get_id();
    assert(owner_ == std::this_thread::get_id() && "thread-confined object used from another thread");
#endif
  }
  /// Forgets the owner: the next check() binds (an object handed to another thread before use).
  void rebind() noexcept {
#ifndef NDEBUG
    owner_ = std::thread::id();
#endif
  }

 private:
#ifndef NDEBUG
  mutable std::thread::id owner_;
#endif
};

}  // namespace weir
