// SPDX-License-Identifier: Apache-2.0
#include "file_body.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weir/text.h"

namespace weir::http {

struct FileBody::Portion {
  std::vector<PageRef> pages;
  std::uint32_t page_size = 0;
  std::uint64_t offset = 0;  // in the file
  std::uint64_t wanted = 0;
  std::uint64_t got = 0;
};

FileBody::FileBody(Connection& connection, HttpFileBody file, std::function<void(Status)> done)
    : connection_(connection), file_(std::move(file)), done_(std::move(done)) {}

FileBody::~FileBody() = default;

void FileBody::start() {
  // Closed when the last holder (this, or a job whose reply finds nobody) lets go.
  std::shared_ptr<int> fd(new int(-1), [](int* p) {
    if (*p >= 0) ::close(*p);
    delete p;
  });
  std::weak_ptr<FileBody> weak = weak_from_this();
  connection_.group().run_blocking(
      [fd, path = file_.path] {
        *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (*fd < 0) return Status(Errc::io, format("open {}: {}", path, std::strerror(errno)));
        return ok();
      },
      [weak, fd](Status status) {
        auto self = weak.lock();
        if (!self) return;
        if (!status) return self->finish(status);
        self->fd_ = fd;
        self->next();
      });
}

void FileBody::on_sender_state() {
  retry_.reset();  // the event came: no need to wait for the timer
  next();
}

void FileBody::next() {
  if (finished_ || reading_ || !fd_ || retry_) return;
  if (sent_ == file_.length) return finish(ok());
  // The state a notification reported may be old: read the real one. Not ready: wait for the
  // event, and look again shortly anyway. The kernel tells a change against the state it told
  // last, so a sender that filled at our send and drained within the same turn tells nothing.
  if (connection_.sender_state() != SenderState::ready) {
    retry_ = connection_.group().after(kRecheck, [this] {
      retry_.reset();
      next();
    });
    return;
  }
  PagePool& pool = connection_.group().pages();
  auto portion = std::make_shared<Portion>();
  portion->page_size = pool.page_size();
  portion->offset = file_.offset + sent_;
  portion->wanted = std::min(kPortionBytes, file_.length - sent_);
  for (std::uint64_t room = 0; room < portion->wanted; room += portion->page_size) {
    PageRef page = pool.allocate();
    if (!page) break;
    portion->pages.push_back(std::move(page));
  }
  if (portion->pages.empty()) {
    // The group's pages are all in use: backpressure, try again shortly.
    retry_ = connection_.group().after(kRecheck, [this] {
      retry_.reset();
      next();
    });
    return;
  }
  portion->wanted = std::min<std::uint64_t>(portion->wanted, portion->pages.size() * std::uint64_t{portion->page_size});
  reading_ = true;
  std::weak_ptr<FileBody> weak = weak_from_this();
  connection_.group().run_blocking(
      [portion, fd = fd_, path = file_.path] {
        // The job owns the pages until its reply: nobody else reads or writes them meanwhile.
        for (const PageRef& page : portion->pages) {
          const std::uint64_t want = std::min<std::uint64_t>(portion->page_size, portion->wanted - portion->got);
          std::uint64_t filled = 0;
          while (filled < want) {
            ssize_t n = ::pread(*fd, page.get()->data() + filled, want - filled,
                                static_cast<off_t>(portion->offset + portion->got + filled));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Status(Errc::io, format("read {}: {}", path, std::strerror(errno)));
            if (n == 0) return Status(Errc::malformed, format("{} is shorter than the response says", path));
            filled += static_cast<std::uint64_t>(n);
          }
          portion->got += filled;
          if (portion->got == portion->wanted) break;
        }
        return ok();
      },
      [weak, portion](Status status) {
        auto self = weak.lock();
        if (!self) return;
        self->reading_ = false;
        if (!status) return self->finish(status);
        std::vector<PageSlice> slices;
        std::uint64_t left = portion->got;
        for (PageRef& page : portion->pages) {
          if (left == 0) break;
          const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, portion->page_size));
          slices.push_back(PageSlice{std::move(page), 0, n});
          left -= n;
        }
        self->sent_ += portion->got;
        if (self->connection_.send(slices, SendUrgency::now) == SenderState::hard_barrier)
          return self->finish(Status(Errc::limit, "the client does not read: its send queue is full"));
        self->next();
      });
}

void FileBody::finish(Status status) {
  if (finished_) return;
  finished_ = true;
  fd_.reset();
  // The callback may destroy this object (the session drops its body): call it from here.
  auto done = std::move(done_);
  if (done) done(std::move(status));
}

}  // namespace weir::http
