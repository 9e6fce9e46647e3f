// SPDX-License-Identifier: Apache-2.0
#include "publisher.h"

#include <algorithm>

#include "formats/amf/amf0.h"
#include "formats/flv/media_tag.h"
#include "session.h"

namespace weir::rtmp {
namespace amf = formats::amf;
namespace wire = formats::rtmp;

Publisher::Publisher(RtmpSession& session, std::uint32_t stream_id, StreamKey key)
    : session_(session), stream_id_(stream_id), key_(std::move(key)) {}

Publisher::~Publisher() = default;

Status Publisher::start() {
  RtmpGroup& group = session_.group();
  Connection& connection = session_.connection();
  auto publication = group.poll_group().streams().publish(
      key_, PublishOptions{group.config().gop_cache, "rtmp", connection.peer_address(),
                           [&connection](const Status& reason) { connection.close(reason); }});
  if (!publication) return publication.error();
  publication_ = std::move(*publication);
  // The kernel tells this group when the stream's last player (on any group) left; the app hears
  // it as on_no_readers. The publication is ours, so `this` outlives the callback.
  publication_->on_no_subscribers([this] { on_no_readers(); });
  group.stats().add(group.counters().publishes);
  session_.messages().send_user_control(wire::UserControlEvent::stream_begin, stream_id_);
  session_.messages().send_status(stream_id_, "status", "NetStream.Publish.Start", key_.to_string() + " is now published.");
  connection.set_label("publish " + key_.to_string());
  connection.set_stream(key_.to_string());
  session_.logger().info("conn={} peer={} publishing {}", connection.id(), connection.peer_address(), key_.to_string());
  return ok();
}

void Publisher::on_no_readers() {
  AppBridge& bridge = session_.app_bridge();
  if (!bridge.has_hook(AppHook::no_readers)) return;
  auto delay = session_.group().apps().no_readers_delay();
  if (delay.count() == 0) {
    bridge.notify(AppHook::no_readers, bridge.stream_value(key_.name));
    return;
  }
  // Asked only if still nobody watches when the delay ends; a later drop to 0 restarts it. The
  // timer goes with the publisher (unpublish, close).
  no_readers_timer_ = session_.group().poll_group().after(delay, [this] {
    if (publication_->subscriber_count() == 0)
      session_.app_bridge().notify(AppHook::no_readers, session_.app_bridge().stream_value(key_.name));
  });
}

Status Publisher::on_data(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) {
  amf::Amf0Reader reader(payload);
  auto values = reader.read_all();
  if (!values) {
    session_.logger().warn("conn={} data message dropped: {}", session_.connection().id(), values.error().message());
    return ok();
  }
  std::span<const amf::Value> items(*values);
  if (!items.empty() && items[0].as_string() == "@setDataFrame") items = items.subspan(1);
  if (items.empty()) return ok();
  bool is_metadata = items[0].as_string() == "onMetaData";
  // Re-encoded without @setDataFrame: what players expect to receive.
  scratch_.clear();
  amf::Amf0Writer writer(scratch_);
  for (const amf::Value& v : items) WEIR_TRY(writer.write(v));
  MediaFrame frame;
  frame.dts_ms = header.timestamp;
  frame.kind = MediaKind::data;
  frame.codec = Codec::amf0;
  frame.flags.is_metadata = is_metadata;
  if (!session_.group().ingest().append(std::span<const std::uint8_t>(scratch_), frame.payload))
    return error(Errc::limit, "page pool exhausted");
  publication_->push(std::move(frame));
  return ok();
}

Status Publisher::on_media(const wire::MessageHeader& header, std::span<const std::uint8_t> payload,
                           const PageSlice* slice) {
  if (payload.empty()) return ok();
  RtmpGroup& group = session_.group();
  auto info = header.type_id == wire::kMessageAudio ? formats::flv::parse_audio_tag(payload)
                                                    : formats::flv::parse_video_tag(payload);
  if (!info) {
    // One bad frame costs that frame, not the stream.
    group.stats().add(group.counters().protocol_errors);
    session_.logger().warn("conn={} {} frame dropped: {}", session_.connection().id(), key_.to_string(),
                           info.error().message());
    return ok();
  }
  // 32-bit RTMP time, unwrapped (a stream may run past 49 days).
  std::int64_t dts = static_cast<std::int64_t>(header.timestamp) + wrap_offset_;
  if (dts + (std::int64_t{1} << 31) < last_dts_) {
    wrap_offset_ += std::int64_t{1} << 32;
    dts += std::int64_t{1} << 32;
  }
  last_dts_ = dts;
  MediaFrame frame;
  frame.dts_ms = dts;
  frame.composition_ms = info->composition_time_ms;
  frame.kind = info->kind;
  frame.codec = info->codec;
  frame.flags = info->flags;
  frame.codec_data_offset = static_cast<std::uint16_t>(std::min<std::size_t>(info->payload_offset, 0xFFFF));
  if (slice) frame.payload.append(*slice);
  else if (!group.ingest().append(payload, frame.payload))
    return error(Errc::limit, "page pool exhausted while ingesting a {} byte frame", payload.size());
  group.stats().add(group.counters().frames_in);
  publication_->push(std::move(frame));
  return ok();
}

}  // namespace weir::rtmp
