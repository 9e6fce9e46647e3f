// SPDX-License-Identifier: Apache-2.0
#pragma once
// FileBody: the body of one response read from a file (HttpFileBody), as seed 001 sends files:
//
//   open (worker) --> portion: pages of the group's pool, filled by pread on a worker
//     --> Connection::send (the pages, no copy) --> sender ready? the next portion : wait for
//         on_sender_state or a 10 ms look again (the event is a hint: the real state is read
//         before each portion)
//   all sent --> done(ok); a read error or a file shorter than promised --> done(error)
//
// Thread: the connection's group; the worker jobs touch only the portion's pages and the fd.
// Destroying it (the connection closed) abandons a job in flight: its reply finds nobody.

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "weir/connection.h"
#include "weir/services/http.h"

namespace weir::http {

class FileBody : public std::enable_shared_from_this<FileBody> {
 public:
  /// Bytes read per portion (in pages of the group's pool).
  static constexpr std::uint64_t kPortionBytes = 256 * 1024;

  FileBody(Connection& connection, HttpFileBody file, std::function<void(Status)> done);
  ~FileBody();
  void start();
  /// The connection's sender changed state: maybe send the next portion.
  void on_sender_state();

 private:
  struct Portion;
  void next();
  void finish(Status status);

  Connection& connection_;
  const HttpFileBody file_;
  std::function<void(Status)> done_;
  std::shared_ptr<int> fd_;  // closed by its deleter (on whichever thread drops it last)
  std::uint64_t sent_ = 0;
  bool reading_ = false;
  bool finished_ = false;
  static constexpr std::chrono::milliseconds kRecheck{10};
  std::unique_ptr<Timer> retry_;  // a look again: the pool was at its limit, or the sender was full
};

}  // namespace weir::http
