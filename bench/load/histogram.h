// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Histogram: a fixed-size log-linear histogram of microsecond values (exact below 64 µs, then 32
/// buckets per power of two: under 3.2% error), cheap to record into on the hot path and to merge
/// across threads. Thread: one owner; merge() after the owners are done.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace weir::bench {

class Histogram {
 public:
  void record(std::int64_t value_us) noexcept {
    auto v = static_cast<std::uint64_t>(value_us < 0 ? 0 : value_us);
    ++counts_[index(v)];
    ++count_;
    if (v > max_) max_ = v;
  }
  void merge(const Histogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    if (other.max_ > max_) max_ = other.max_;
  }
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  /// The value at quantile q (0..1): the middle of the bucket holding it (at most the maximum);
  /// 0 when empty.
  double quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(middle(i), static_cast<double>(max_));
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSubBits = 5;  // 32 buckets per power of two
  static constexpr std::size_t kBuckets = 64 + 58 * 32;

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < 64) return v;
    int shift = std::bit_width(v) - 1 - kSubBits;
    return 64 + static_cast<std::size_t>(shift - 1) * 32 + ((v >> shift) - 32);
  }
  static double middle(std::size_t i) noexcept {
    if (i < 64) return static_cast<double>(i);
    int shift = static_cast<int>((i - 64) / 32) + 1;
    double low = static_cast<double>(((i - 64) % 32 + 32) << shift);
    return low + static_cast<double>(std::uint64_t{1} << shift) / 2;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace weir::bench
