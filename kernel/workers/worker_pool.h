// SPDX-License-Identifier: Apache-2.0
#pragma once
// The worker pool: threads for blocking work (disk, DNS, outgoing HTTP) so that no poll group ever
// blocks. Jobs come in from any thread; results go back to the asking group as tasks.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weir::kernel {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues a job. Any thread. After stop_and_join() it runs the job on the caller's thread
  /// (the main thread draining the groups at exit) rather than dropping it.
  void submit(std::function<void()> job);
  void stop_and_join();
  unsigned size() const noexcept { return static_cast<unsigned>(threads_.size()); }

 private:
  void run();

  // A mutex and a condition variable: jobs are blocking work by definition, never the media path,
  // and workers must sleep while idle.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  bool joined_ = false;  // stop_and_join() is done: submit() runs jobs itself
  std::vector<std::thread> threads_;
};

}  // namespace weir::kernel
