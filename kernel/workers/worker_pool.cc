// SPDX-License-Identifier: Apache-2.0
#include "workers/worker_pool.h"

namespace weir::kernel {

WorkerPool::WorkerPool(unsigned threads) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() { stop_and_join(); }

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (!joined_) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  // The workers are gone: only the main thread's final drain at exit gets here (a shared object's
  // last write, asked for by the reply to the one before). Blocking is fine there; losing the
  // job silently is not.
  job();
}

void WorkerPool::stop_and_join() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  std::lock_guard lock(mutex_);
  joined_ = true;
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to do
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace weir::kernel
