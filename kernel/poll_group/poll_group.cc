// SPDX-License-Identifier: Apache-2.0
#include "poll_group/poll_group.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "net/connection.h"
#include "net/udp_socket.h"
#include "net/connector.h"
#include "net/tls.h"
#include "stats/stats.h"
#include "shared_objects/shared_objects.h"
#include "stream/streams.h"
#include "workers/worker_pool.h"

namespace weir::kernel {
namespace {

// The one thread_local of the kernel: which poll group this thread runs, so that a page released
// on any thread knows whether it is home, and post() knows whether it may batch.
thread_local PollGroupImpl* t_current_group = nullptr;

struct CurrentGroupScope {
  explicit CurrentGroupScope(PollGroupImpl* group) : previous(t_current_group) { t_current_group = group; }
  ~CurrentGroupScope() { t_current_group = previous; }
  PollGroupImpl* previous;
};

// Pages released on another group, going home in one batch.
struct ReturnPages final : Task {
  ReturnPages(PagePoolImpl& pool, std::vector<Page*> pages) : pool(pool), pages(std::move(pages)) {}
  void run() noexcept override { pool.take_home(pages); }
  PagePoolImpl& pool;  // the destination group's own pool: the task runs there
  std::vector<Page*> pages;
};

class TimerImpl final : public Timer {
 public:
  TimerImpl(boost::asio::io_context& io, std::chrono::milliseconds delay, std::function<void()> fn)
      : timer_(io, delay), alive_(std::make_shared<bool>(true)) {
    // The handler may already be queued when the timer is cancelled: `alive` decides.
    timer_.async_wait([alive = alive_, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec && *alive) fn();
    });
  }
  ~TimerImpl() override { cancel(); }
  void cancel() noexcept override {
    *alive_ = false;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_;
};

}  // namespace

PollGroupImpl* PollGroupImpl::current() noexcept { return t_current_group; }

PollGroupImpl::PollGroupImpl(GroupId id, Groups& groups, const GroupSettings& settings,
                             WorkerPool& workers, LogSink& log)
    : id_(id),
      groups_(groups),
      settings_(settings),
      workers_(workers),
      log_(log),
      logger_(&log, "kernel.group" + std::to_string(id)),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      flush_timer_(io_),
      trim_timer_(io_),
      hold_timer_(io_),
      pool_(settings.page_size, settings.max_pages, this),
      framing_(pool_),
      streams_(std::make_unique<StreamsImpl>(*this)),
      shared_objects_(std::make_unique<SharedObjectsImpl>(*this)),
      stats_(std::make_unique<StatsImpl>(*this)) {}

PollGroupImpl::~PollGroupImpl() {
  connections_.clear();
  dirty_udp_.clear();
  shared_objects_.reset();
  streams_.reset();
  receive_page_.reset();
  framing_.reset();
}

GroupId PollGroupImpl::group_count() const noexcept { return groups_.count(); }
Streams& PollGroupImpl::streams() noexcept { return *streams_; }
SharedObjects& PollGroupImpl::shared_objects() noexcept { return *shared_objects_; }
Stats& PollGroupImpl::stats() noexcept { return *stats_; }

Result<std::unique_ptr<UdpSocket>> PollGroupImpl::open_udp(const UdpSpec& spec, UdpReceiver* receiver) noexcept {
  owner_.check();
  auto socket = UdpSocketImpl::open(*this, spec, receiver);
  if (!socket) return socket.error();
  return std::unique_ptr<UdpSocket>(std::make_unique<UdpSocketHandle>(std::move(*socket)));
}

void PollGroupImpl::start(std::function<void(PollGroupImpl&)> on_start) {
  outboxes_.resize(groups_.count());
  return_bins_.resize(groups_.count());
  owner_.rebind();
  pool_.rebind_owner();
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    CurrentGroupScope scope(this);
    auto work = boost::asio::make_work_guard(io_);
    arm_trim_timer();
    on_start(*this);
    io_.run();
  });
}

void PollGroupImpl::stop(std::function<void(PollGroupImpl&)> on_stop) {
  boost::asio::post(io_, [this, on_stop = std::move(on_stop)] {
    on_stop(*this);
    end_of_turn();
    trim_timer_.cancel();
    hold_timer_.cancel();
    io_.stop();
  });
}

void PollGroupImpl::join() {
  if (thread_.joinable()) thread_.join();
}

bool PollGroupImpl::drain_after_stop() {
  CurrentGroupScope scope(this);
  owner_.rebind();
  pool_.rebind_owner();
  shared_objects_->rebind_owner();
  bool did_work = false;
  io_.restart();
  if (io_.poll() > 0) did_work = true;
  if (inbox_.load(std::memory_order_acquire) != nullptr) {
    drain_inbox();
    did_work = true;
  }
  end_of_turn();
  for (const Outbox& box : outboxes_)
    if (box.newest) did_work = true;
  return did_work;
}

void PollGroupImpl::release_held() noexcept {
  CurrentGroupScope scope(this);
  owner_.rebind();
  pool_.rebind_owner();
  shared_objects_->rebind_owner();
  close_all_connections(Status(Errc::closed, "server stopped"));
  held_senders_.clear();
  streams_->release_all();
  receive_page_.reset();
  framing_.reset();
  end_of_turn();
}

void PollGroupImpl::post(GroupId to, std::unique_ptr<Task> task) noexcept {
  if (current() != this) {
    groups_.post(to, std::move(task));
    return;
  }
  owner_.check();
  Task* raw = task.release();
  Outbox& box = outboxes_[to];
  TaskList::next(*raw) = box.newest;
  box.newest = raw;
  if (!box.oldest) box.oldest = raw;
  schedule_end_of_turn();
}

void PollGroupImpl::enqueue(Task* newest, Task* oldest) noexcept {
  Task* head = inbox_.load(std::memory_order_relaxed);
  do {
    TaskList::next(*oldest) = head;
  } while (!inbox_.compare_exchange_weak(head, newest, std::memory_order_release,
                                         std::memory_order_relaxed));
  if (head == nullptr) boost::asio::post(io_, [this] { drain_inbox(); });
}

void PollGroupImpl::drain_inbox() noexcept {
  Task* list = inbox_.exchange(nullptr, std::memory_order_acquire);
  if (list) ++inbox_batches_;
  Task* ordered = nullptr;
  while (list) {  // newest first -> oldest first
    Task* next = TaskList::next(*list);
    TaskList::next(*list) = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    Task* next = TaskList::next(*ordered);
    std::unique_ptr<Task> task(ordered);
    task->run();
    ordered = next;
  }
}

void PollGroupImpl::defer(std::function<void()> fn) noexcept { boost::asio::post(io_, std::move(fn)); }

std::unique_ptr<Timer> PollGroupImpl::after(std::chrono::milliseconds delay,
                                            std::function<void()> fn) noexcept {
  return std::make_unique<TimerImpl>(io_, delay, std::move(fn));
}

void PollGroupImpl::run_blocking(std::function<Status()> job, std::function<void(Status)> done) noexcept {
  workers_.submit([this, job = std::move(job), done = std::move(done)]() mutable {
    Status status = job();
    auto reply = std::make_unique<FunctionTask>(
        [done = std::move(done), status = std::move(status)]() mutable { done(std::move(status)); });
    groups_.post(id_, std::move(reply));
  });
}

void PollGroupImpl::schedule_end_of_turn() noexcept {
  if (end_of_turn_scheduled_) return;
  end_of_turn_scheduled_ = true;
  boost::asio::post(io_, [this] { end_of_turn(); });
}

void PollGroupImpl::request_end_of_turn(TurnHook& hook) noexcept {
  owner_.check();
  turn_hooks_.push_back(&hook);
  schedule_end_of_turn();
}

void PollGroupImpl::forget_turn_hook(TurnHook& hook) noexcept {
  std::erase(turn_hooks_, &hook);
  std::replace(calling_hooks_.begin(), calling_hooks_.end(), &hook, static_cast<TurnHook*>(nullptr));
}

void PollGroupImpl::mark_sender_dirty(std::shared_ptr<ConnectionImpl> connection) noexcept {
  dirty_senders_.push_back(std::move(connection));
  schedule_end_of_turn();
}

void PollGroupImpl::mark_udp_dirty(std::shared_ptr<UdpSocketImpl> socket) noexcept {
  dirty_udp_.push_back(std::move(socket));
  schedule_end_of_turn();
}

void PollGroupImpl::schedule_flush(std::shared_ptr<ConnectionImpl> connection, Clock::time_point at) noexcept {
  delayed_flushes_.push(DelayedFlush{at, connection});
  if (at < flush_timer_at_) arm_flush_timer();
}

void PollGroupImpl::arm_flush_timer() noexcept {
  if (delayed_flushes_.empty()) {
    flush_timer_at_ = Clock::time_point::max();
    return;
  }
  flush_timer_at_ = delayed_flushes_.top().at;
  flush_timer_.expires_at(flush_timer_at_);
  flush_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or shut down
    run_due_flushes();
  });
}

void PollGroupImpl::run_due_flushes() noexcept {
  Clock::time_point now = Clock::now();
  while (!delayed_flushes_.empty() && delayed_flushes_.top().at <= now) {
    if (auto connection = delayed_flushes_.top().connection.lock()) dirty_senders_.push_back(std::move(connection));
    delayed_flushes_.pop();
  }
  flush_timer_at_ = Clock::time_point::max();
  arm_flush_timer();
  if (!dirty_senders_.empty()) schedule_end_of_turn();
}

void PollGroupImpl::hold_sender(std::shared_ptr<ConnectionImpl> connection, Clock::time_point at) noexcept {
  held_senders_.push_back(HeldSender{at, std::move(connection)});
  if (!hold_timer_armed_) arm_hold_timer();
}

void PollGroupImpl::arm_hold_timer() noexcept {
  if (held_senders_.empty()) return;
  hold_timer_armed_ = true;
  hold_timer_.expires_at(held_senders_.front().at);
  hold_timer_.async_wait([this](const boost::system::error_code& ec) {
    hold_timer_armed_ = false;
    if (ec) return;  // shut down
    run_due_holds();
  });
}

void PollGroupImpl::run_due_holds() noexcept {
  const Clock::time_point now = Clock::now();
  while (!held_senders_.empty() && held_senders_.front().at <= now) {
    HeldSender& front = held_senders_.front();
    if (front.connection->is_held_until(front.at)) dirty_senders_.push_back(std::move(front.connection));
    held_senders_.pop_front();
  }
  arm_hold_timer();
  if (!dirty_senders_.empty()) schedule_end_of_turn();
}

void PollGroupImpl::arm_trim_timer() noexcept {
  if (settings_.page_trim_interval.count() <= 0) return;
  trim_timer_.expires_after(settings_.page_trim_interval);
  trim_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // stopping
    pool_.trim_idle(kSparePages);
    arm_trim_timer();
  });
}

void PollGroupImpl::return_page_later(GroupId home, Page* page) noexcept {
  return_bins_[home].push_back(page);
  schedule_end_of_turn();
}

void PollGroupImpl::return_page_from_outside(Page* page) noexcept {
  auto task = std::make_unique<ReturnPages>(pool_, std::vector<Page*>{page});
  Task* raw = task.release();
  enqueue(raw, raw);
}

void PollGroupImpl::end_of_turn() noexcept {
  end_of_turn_scheduled_ = false;
  // 1. Streams publish what they gathered this turn (local fan-out queues into senders).
  // Hooks asked for meanwhile run in the next round; forgotten ones are blanked (see calling_hooks_).
  while (!turn_hooks_.empty()) {
    calling_hooks_.swap(turn_hooks_);
    for (std::size_t i = 0; i < calling_hooks_.size(); ++i)
      if (TurnHook* hook = calling_hooks_[i]) hook->on_end_of_turn();
    calling_hooks_.clear();
  }
  // 2. Senders write: one gathered write per TCP socket, and one sendmmsg per UDP socket (per 64
  // datagrams), for everything queued this turn. A close inside a write may queue more (a
  // handler's goodbye): the loop takes that too.
  while (!dirty_senders_.empty() || !dirty_udp_.empty()) {
    std::vector<std::shared_ptr<ConnectionImpl>> senders;
    senders.swap(dirty_senders_);
    for (auto& connection : senders) connection->flush();
    std::vector<std::shared_ptr<UdpSocketImpl>> sockets;
    sockets.swap(dirty_udp_);
    for (auto& socket : sockets) socket->flush();
  }
  // 3. Pages of other groups released here go home, and 4. outboxes leave, one push per group.
  for (GroupId g = 0; g < return_bins_.size(); ++g) {
    if (return_bins_[g].empty()) continue;
    auto task = std::make_unique<ReturnPages>(groups_[g].pool(), std::move(return_bins_[g]));
    return_bins_[g].clear();
    Task* raw = task.release();
    Outbox& box = outboxes_[g];
    TaskList::next(*raw) = box.newest;
    box.newest = raw;
    if (!box.oldest) box.oldest = raw;
  }
  flush_outboxes();
}

void PollGroupImpl::flush_outboxes() noexcept {
  for (GroupId g = 0; g < outboxes_.size(); ++g) {
    Outbox& box = outboxes_[g];
    if (!box.newest) continue;
    groups_[g].enqueue(box.newest, box.oldest);
    box = Outbox{};
  }
}

void PollGroupImpl::adopt_connection(std::shared_ptr<ConnectionImpl> connection) {
  connections_.emplace(connection->id(), std::move(connection));
}

void PollGroupImpl::retire_connection(ConnectionId id) noexcept {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  // Keep the object alive until the current call stack (which may be inside its handler) unwinds.
  defer([keep = std::move(it->second)] {});
  connections_.erase(it);
  remove_load();
}

std::vector<ConnectionInfo> PollGroupImpl::connection_infos() const {
  std::vector<ConnectionInfo> infos;
  infos.reserve(connections_.size());
  for (const auto& [id, connection] : connections_)
    if (connection->is_open()) infos.push_back(connection->info());
  return infos;
}

bool PollGroupImpl::close_connection(ConnectionId id, const Status& reason) noexcept {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->is_open()) return false;
  std::shared_ptr<ConnectionImpl> keep = it->second;  // close() retires it from connections_
  keep->close(reason);
  return true;
}

void PollGroupImpl::close_all_connections(const Status& reason) noexcept {
  std::vector<std::shared_ptr<ConnectionImpl>> all;
  for (auto& [id, connection] : connections_) all.push_back(connection);
  for (auto& connection : all) connection->close_gracefully(reason);
  // A failed() callback may start or cancel other attempts: take them one at a time, each kept
  // alive across its own callback.
  while (!pending_connects_.empty()) {
    std::shared_ptr<ConnectAttempt> attempt = pending_connects_.back()->shared_from_this();
    attempt->abort(reason);
  }
}

std::unique_ptr<Outgoing> PollGroupImpl::connect(const ConnectSpec& spec,
                                                 std::function<std::unique_ptr<ConnectionHandler>(Connection&)> make_handler,
                                                 std::function<void(Status)> failed) noexcept {
  owner_.check();
  auto attempt = std::make_shared<ConnectAttempt>(*this, spec, std::move(make_handler), std::move(failed));
  attempt->start();
  return std::make_unique<OutgoingImpl>(std::move(attempt));
}

void PollGroupImpl::register_connect(ConnectAttempt& attempt) { pending_connects_.push_back(&attempt); }

void PollGroupImpl::forget_connect(ConnectAttempt& attempt) noexcept { std::erase(pending_connects_, &attempt); }

Result<std::shared_ptr<TlsContext>> PollGroupImpl::tls_client_context(bool verify_peer) {
  std::shared_ptr<TlsContext>& context = tls_client_[verify_peer ? 1 : 0];
  if (!context) {
    auto made = TlsContext::create_client(verify_peer);
    if (!made) return made.error();
    context = std::move(*made);
  }
  return context;
}

std::byte* PollGroupImpl::receive_space(std::uint32_t min_bytes, std::uint32_t& available) noexcept {
  if (!receive_page_ || receive_page_.capacity() - receive_used_ < min_bytes) {
    receive_page_ = pool_.allocate();
    receive_used_ = 0;
    if (!receive_page_) {
      available = 0;
      return nullptr;
    }
  }
  available = receive_page_.capacity() - receive_used_;
  return receive_page_.get()->data() + receive_used_;
}

PageSlice PollGroupImpl::commit_receive(std::uint32_t n) noexcept {
  PageSlice slice{receive_page_, receive_used_, n};
  receive_used_ += n;
  return slice;
}

Groups::Groups(const GroupSettings& settings, GroupId count, WorkerPool& workers, LogSink& log) {
  for (GroupId id = 0; id < count; ++id)
    groups_.push_back(std::make_unique<PollGroupImpl>(id, *this, settings, workers, log));
}

Groups::~Groups() {
  // Run what is still queued (page returns, closing handlers), then let each group drop what it
  // holds and run what that queued, so that every page is home before any pool is freed: a page
  // released on the main thread outside a group's scope would go to an inbox nobody drains, and
  // one released after its home group was freed would reach a dead pool.
  drain_all();
  for (auto& group : groups_) group->release_held();
  drain_all();
  groups_.clear();
}

void Groups::drain_all() {
  for (int round = 0; round < 16; ++round) {
    bool did_work = false;
    for (auto& group : groups_) did_work |= group->drain_after_stop();
    if (!did_work) break;
  }
  for (auto& group : groups_) group->drain_after_stop();
}

void Groups::post(GroupId to, std::unique_ptr<Task> task) noexcept {
  if (PollGroupImpl* here = PollGroupImpl::current()) {
    here->post(to, std::move(task));
    return;
  }
  Task* raw = task.release();
  groups_[to]->enqueue(raw, raw);
}

GroupId Groups::least_loaded() const noexcept {
  GroupId best = 0;
  for (GroupId id = 1; id < groups_.size(); ++id)
    if (groups_[id]->load() < groups_[best]->load()) best = id;
  return best;
}

void Groups::start(std::function<void(PollGroupImpl&)> on_start) {
  for (auto& group : groups_) group->start(on_start);
}

void Groups::stop(std::function<void(PollGroupImpl&)> on_stop) {
  for (auto& group : groups_) group->stop(on_stop);
}

void Groups::join() {
  for (auto& group : groups_) group->join();
}

}  // namespace weir::kernel
