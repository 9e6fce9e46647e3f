// SPDX-License-Identifier: Apache-2.0
#pragma once
// gather(): ask every poll group for a part (one message each way), and hand all parts, indexed by
// group, to `done` on the asking group. Statistics, connection listings and searches by id use
// it: nothing waits, each part is computed on the group that owns the objects it reads.

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "poll_group/poll_group.h"

namespace weir::kernel {

namespace gather_detail {

template <class Part>
struct Gathering {  // lives on the asking group; only that group touches it
  Gathering(GroupId groups, std::function<void(std::vector<Part>)> done)
      : waiting(groups), parts(groups), done(std::move(done)) {}
  GroupId waiting;
  std::vector<Part> parts;
  std::function<void(std::vector<Part>)> done;
};

template <class Part>
struct GatherReply final : Task {
  std::shared_ptr<Gathering<Part>> gathering;
  GroupId from = 0;
  Part part;
  void run() noexcept override {
    Gathering<Part>& g = *gathering;
    g.parts[from] = std::move(part);
    if (--g.waiting == 0) g.done(std::move(g.parts));
  }
};

template <class Part>
struct GatherRequest final : Task {
  std::shared_ptr<Gathering<Part>> gathering;
  // Shared by the requests of one gather(); reads only the group it runs on.
  std::shared_ptr<const std::function<Part(PollGroupImpl&)>> produce;
  GroupId reply_to = 0;
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    auto reply = std::make_unique<GatherReply<Part>>();
    reply->gathering = std::move(gathering);
    reply->from = group.id();
    reply->part = (*produce)(group);
    group.post(reply_to, std::move(reply));
  }
};

}  // namespace gather_detail

/// Runs `produce` on every group (this one included, in a later turn) and `done` on `from` with
/// the parts, parts[g] from group g. Thread: `from`'s.
template <class Part>
void gather(PollGroupImpl& from, std::function<Part(PollGroupImpl&)> produce,
            std::function<void(std::vector<Part>)> done) {
  auto gathering = std::make_shared<gather_detail::Gathering<Part>>(from.group_count(), std::move(done));
  auto shared_produce = std::make_shared<const std::function<Part(PollGroupImpl&)>>(std::move(produce));
  for (GroupId g = 0; g < from.group_count(); ++g) {
    auto request = std::make_unique<gather_detail::GatherRequest<Part>>();
    request->gathering = gathering;
    request->produce = shared_produce;
    request->reply_to = from.id();
    from.post(g, std::move(request));
  }
}

}  // namespace weir::kernel
