// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// PerGroup<T>: one T per poll group, built on that group's thread when it starts and destroyed
/// there when it stops. No locks: each group touches only its own slot.

#include <memory>
#include <vector>

#include "weir/poll_group.h"
#include "weir/registrar.h"

namespace weir {

template <class T>
class PerGroup {
 public:
  /// Arranges for T(PollGroup&, args...) on every group. Call during registration; the PerGroup
  /// must outlive the server (a module-level static or an object owned by the module).
  template <class... Args>
  void install(Registrar& registrar, Args... args) {
    items_.resize(registrar.group_count());
    registrar.on_group_start([this, args...](PollGroup& group) {
      items_[group.id()] = std::make_unique<T>(group, args...);
    });
    registrar.on_group_stop([this](PollGroup& group) { items_[group.id()].reset(); });
  }
  /// This group's T. Thread: that group.
  T& local(PollGroup& group) noexcept { return *items_[group.id()]; }
  bool has(PollGroup& group) const noexcept {
    return group.id() < items_.size() && items_[group.id()] != nullptr;
  }

 private:
  std::vector<std::unique_ptr<T>> items_;
};

}  // namespace weir
