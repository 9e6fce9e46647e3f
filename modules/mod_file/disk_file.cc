// SPDX-License-Identifier: Apache-2.0
#include "disk_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

#include "formats/mp4/movie.h"
#include "formats/mp4/recording.h"
#include "weir/text.h"

namespace weir::file {
namespace {

Status io_error(std::string_view what, const std::string& path, int error) {
  return Status(Errc::io, format("{} {}: {}", what, path, std::strerror(error)));
}

// pwrite all of `bytes` at `offset`.
Status write_at(int fd, const std::string& path, std::span<const std::uint8_t> bytes, std::uint64_t offset) {
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("write", path, n < 0 ? errno : EIO);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return ok();
}

}  // namespace

DiskFile::DiskFile(std::string path, std::chrono::milliseconds flush_interval)
    : path_(std::move(path)), flush_interval_(flush_interval) {}

DiskFile::~DiskFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string DiskFile::path() const {
  std::lock_guard lock(mutex_);
  return path_;
}

bool DiskFile::append(std::vector<Item> items) {
  std::uint64_t bytes = 0;
  for (const Item& item : items) {
    bytes += item.bytes.size();
    for (const PageSlice& s : item.slices) bytes += s.length;
  }
  queued_.fetch_add(bytes, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  for (Item& item : items) items_.push_back(std::move(item));
  if (draining_) return false;
  draining_ = true;
  return true;
}

std::function<void()> DiskFile::take_finished_callback() {
  std::lock_guard lock(mutex_);
  if (!finished_) return {};
  return std::exchange(then_, {});
}

bool DiskFile::finish(std::vector<std::uint8_t> moov, std::vector<std::uint8_t> mdat_size, std::function<void()> then) {
  std::lock_guard lock(mutex_);
  then_ = std::move(then);
  moov_ = std::move(moov);
  mdat_size_ = std::move(mdat_size);
  finish_queued_ = true;
  if (draining_) return false;
  draining_ = true;
  return true;
}

bool DiskFile::more_to_drain() {
  std::lock_guard lock(mutex_);
  if ((items_.empty() && !finish_queued_) || finished_ || !failed_.is_ok()) {
    draining_ = false;
    return false;
  }
  return true;  // draining_ stays set: the caller starts the next drain
}

Status DiskFile::open_file() {
  std::string base;
  {
    std::lock_guard lock(mutex_);
    base = path_;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(base).parent_path(), ec);
  if (ec) return Status(Errc::io, format("create the directory of {}: {}", base, ec.message()));
  const std::size_t dot = base.rfind('.');
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string path = attempt == 0 ? base : base.substr(0, dot) + "-" + std::to_string(attempt) + base.substr(dot);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return io_error("create", path, errno);
    fd_ = fd;
    std::lock_guard lock(mutex_);
    path_ = std::move(path);
    return ok();
  }
  return Status(Errc::exists, format("create {}: a thousand files of that name exist", base));
}

Status DiskFile::write_items(std::deque<Item>& items) {
  iovec iov[IOV_MAX];
  std::size_t count = 0;
  std::uint64_t total = 0;
  auto flush = [&]() -> Status {
    std::size_t at = 0;
    while (at < count) {
      ssize_t n = ::writev(fd_, iov + at, static_cast<int>(count - at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return io_error("write", path_, n < 0 ? errno : ENOSPC);
      auto left = static_cast<std::size_t>(n);
      while (at < count && left >= iov[at].iov_len) left -= iov[at++].iov_len;
      if (left > 0) {  // a short write inside one iovec: the rest of it next
        iov[at].iov_base = static_cast<std::uint8_t*>(iov[at].iov_base) + left;
        iov[at].iov_len -= left;
      }
    }
    count = 0;
    return ok();
  };
  for (const Item& item : items) {
    if (count + 1 + item.slices.size() > IOV_MAX)
      if (Status s = flush(); !s) return s;
    if (!item.bytes.empty()) iov[count++] = iovec{const_cast<std::uint8_t*>(item.bytes.data()), item.bytes.size()};
    total += item.bytes.size();
    for (const PageSlice& slice : item.slices) {
      if (count == IOV_MAX)
        if (Status s = flush(); !s) return s;
      iov[count++] = iovec{const_cast<std::uint8_t*>(slice.data()), slice.length};
      total += slice.length;
    }
  }
  if (Status s = flush(); !s) return s;
  written_.fetch_add(total, std::memory_order_relaxed);
  queued_.fetch_sub(total, std::memory_order_relaxed);
  return ok();
}

Status DiskFile::drain() {
  std::deque<Item> items;
  bool finish = false;
  std::vector<std::uint8_t> moov, mdat_size;
  {
    std::lock_guard lock(mutex_);
    if (finished_ || !failed_.is_ok()) return failed_;
    items.swap(items_);
    if (finish_queued_) {
      finish = true;
      finish_queued_ = false;
      moov.swap(moov_);
      mdat_size.swap(mdat_size_);
    }
  }
  Status status = ok();
  if (fd_ < 0 && (!items.empty() || finish)) status = open_file();
  if (status && !items.empty()) status = write_items(items);
  items.clear();  // the pages go back now, not when the next batch comes
  const auto now = std::chrono::steady_clock::now();
  if (status && !finish && now - synced_at_ >= flush_interval_) {
    // What was written so far survives a power cut from here on.
    if (::fdatasync(fd_) != 0) status = io_error("flush", path_, errno);
    synced_at_ = now;
  }
  if (status && finish && moov.empty()) {
    // Nothing was recorded: the file goes.
    ::close(fd_);
    fd_ = -1;
    ::unlink(path().c_str());
    std::lock_guard lock(mutex_);
    finished_ = true;
    return ok();
  }
  if (status && finish) {
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) status = io_error("seek", path_, errno);
    if (status && !moov.empty()) status = write_at(fd_, path_, moov, static_cast<std::uint64_t>(end));
    if (status && !mdat_size.empty()) status = write_at(fd_, path_, mdat_size, formats::mp4::kFtypSize + 8);
    if (status && ::fdatasync(fd_) != 0) status = io_error("flush", path_, errno);
    ::close(fd_);
    fd_ = -1;
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  if (!status) {
    std::lock_guard lock(mutex_);
    failed_ = status;
    queued_.store(0, std::memory_order_relaxed);
    items_.clear();
  }
  return status;
}

bool is_finished_file(const std::string& path) {
  namespace mp4 = formats::mp4;
  std::uint8_t start[mp4::kFileStartSize] = {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  const ssize_t n = ::pread(fd, start, sizeof start, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof start)) return false;  // its first bytes are still being written
  if (std::memcmp(start + mp4::kFtypSize + 4, "mdat", 4) != 0) return true;  // not one of ours
  std::uint64_t size = 0;
  for (std::size_t i = mp4::kFtypSize + 8; i < mp4::kFileStartSize; ++i) size = size << 8 | start[i];
  return size != 0;
}

Status repair_recording(const std::string& path, std::int64_t& kept_ms) {
  namespace mp4 = formats::mp4;
  kept_ms = 0;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_error("open", path, errno);
  mp4::RecordingScanner scanner;
  std::vector<std::uint8_t> buffer(1 << 20);
  Status status = ok();
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = io_error("read", path, errno);
      break;
    }
    if (n == 0) break;
    status = scanner.feed(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
    if (!status || scanner.stopped() || scanner.is_finished()) break;
  }
  if (status && scanner.is_finished()) status = Status(Errc::exists, path + " is finished");
  if (status && scanner.samples().empty()) status = Status(Errc::not_found, path + ": no whole frame to keep");
  std::vector<std::uint8_t> moov;
  if (status) {
    auto built = mp4::build_moov(scanner.tracks(), scanner.samples(), scanner.valid_end());
    if (!built) status = built.error().with_context(path);
    else moov = std::move(*built);
  }
  if (status && ::ftruncate(fd, static_cast<off_t>(scanner.valid_end())) != 0) status = io_error("cut", path, errno);
  if (status) status = write_at(fd, path, moov, scanner.valid_end());
  if (status) status = write_at(fd, path, mp4::mdat_size_patch(scanner.valid_end()), mp4::kFtypSize + 8);
  if (status && ::fdatasync(fd) != 0) status = io_error("flush", path, errno);
  ::close(fd);
  if (status) {
    std::int64_t first = std::numeric_limits<std::int64_t>::max(), last = std::numeric_limits<std::int64_t>::min();
    for (const mp4::Sample& s : scanner.samples()) {
      first = std::min(first, s.dts_ms);
      last = std::max(last, s.dts_ms);
    }
    kept_ms = last - first;
  }
  return status;
}

}  // namespace weir::file
