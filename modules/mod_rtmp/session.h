// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtmpSession: one RTMP connection, on its poll group.
//
//   bytes --> ServerHandshake --> ChunkReader --sink--> message storage --> on_message()
//              (plain/digest)     (4 header formats,     (audio/video in pages:     control, commands,
//                                  extended timestamps)   the one copy on ingest)    media -> Publisher
//
//   publishers: Publisher (publisher.h) turns a NetStream's media into frames of its Publication.
//   players: Player (player.h) subscribes to a stream and frames media straight into the sender.
//   applications: AppBridge (app_bridge.h) asks for verdicts; commands wait behind them.
//   replies: MessageWriter (message_writer.h) builds control, command and status messages.

#include <memory>
#include <string>
#include <vector>

#include "app_bridge.h"
#include "formats/amf/value.h"
#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/control.h"
#include "formats/rtmp/handshake.h"
#include "formats/rtmp/shared_object.h"
#include "message_writer.h"
#include "rtmp_group.h"
#include "weir/services/apps.h"
#include "weir/connection.h"
#include "weir/log.h"
#include "weir/shared_objects.h"
#include "weir/stream.h"

namespace weir::rtmp {

class Player;
class Publisher;
class SharedObjectClient;

class RtmpSession final : public ConnectionHandler, public formats::rtmp::ChunkSink {
 public:
  RtmpSession(Connection& connection, RtmpGroup& group, Logger logger);
  ~RtmpSession() override;

  // ConnectionHandler
  Status on_data(const PageSlice& data) noexcept override;
  void on_sender_state(SenderState state) noexcept override;
  void on_close(const Status& reason) noexcept override;

  // ChunkSink
  std::span<std::uint8_t> begin_message(const formats::rtmp::MessageHeader& header) noexcept override;
  Status end_message(const formats::rtmp::MessageHeader& header, std::span<std::uint8_t> payload) noexcept override;
  void abort_message(const formats::rtmp::MessageHeader& header) noexcept override;

  // For players.
  Connection& connection() noexcept { return connection_; }
  RtmpGroup& group() noexcept { return group_; }
  const Logger& logger() const noexcept { return logger_; }
  /// Control, command and status messages to this connection's peer.
  MessageWriter& messages() noexcept { return messages_; }
  /// Closes the connection (players call it when they fall past the hard limit).
  void fail(Status reason);
  /// The application named by connect (empty before it).
  const std::string& app() const noexcept { return app_; }
  /// This connection's side of its server-side application.
  AppBridge& app_bridge() noexcept { return app_bridge_; }
  /// Handles, in order, the commands that waited behind an application's hook (after its verdict).
  void resume_commands();
  /// For shared objects: sends a shared object message (type 16 when `is_amf3`, else 19).
  void send_shared_object(const formats::rtmp::SharedObjectMessage& message, bool is_amf3);
  /// Releases the client's use of `key` after the current call stack (it may be inside it).
  void release_shared_object(const SharedObjectKey& key);

 private:
  struct Incoming {  // a message being assembled on one chunk stream
    std::uint32_t chunk_stream_id = 0;
    PageSlice slice;  // audio/video/data that fits a page: assembled in place
    // Everything else. Not zero-filled: a large block is mapped lazily by the allocator, so a
    // declared length costs memory only as its bytes arrive.
    std::unique_ptr<std::uint8_t[]> bytes;
    std::uint32_t capacity = 0;
    std::uint32_t open_length = 0;  // counted in open_bytes_ while the message is unfinished
    bool in_page = false;
  };

  Incoming* incoming(std::uint32_t chunk_stream_id);
  Status on_message(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload,
                    const PageSlice* slice);
  Status on_control(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);
  Status on_command(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);
  Status on_data_message(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);
  Status on_media(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload,
                  const PageSlice* slice);
  Status on_shared_object(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload);
  SharedObjectClient* find_shared_object(const SharedObjectKey& key);

  Status on_connect(double transaction, const formats::amf::Value& command);
  Status on_create_stream(double transaction);
  Status on_publish(double transaction, std::uint32_t stream_id, const std::vector<formats::amf::Value>& args);
  Status on_play(double transaction, std::uint32_t stream_id, const std::vector<formats::amf::Value>& args);
  void close_stream(std::uint32_t stream_id);

  Publisher* publisher(std::uint32_t stream_id);
  void schedule_ping();

  void finish_connect(double transaction, const AppVerdict& verdict);
  void start_publish(std::uint32_t stream_id, const std::string& name, const std::string& type);
  /// `may_ask`: a name nobody publishes goes to the app's on_stream_not_found (once).
  /// `source`: where to pull the stream from (an application's stream_not_found verdict).
  void start_play(std::uint32_t stream_id, const std::string& name, double duration_s, bool may_ask = true,
                  std::string source = {});

  Connection& connection_;
  RtmpGroup& group_;
  Logger logger_;
  std::unique_ptr<formats::rtmp::ServerHandshake> handshake_;  // until the handshake is done
  formats::rtmp::ChunkReader reader_;
  MessageWriter messages_;  // commands and control; media framing is the players'
  std::vector<Incoming> incoming_;
  std::uint64_t open_bytes_ = 0;  // declared lengths of unfinished messages, bounded per connection

  bool connected_ = false;
  std::string app_;
  std::string tc_url_;
  std::string flash_version_;
  double object_encoding_ = 0;
  std::uint32_t next_stream_id_ = 1;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  std::vector<std::unique_ptr<Player>> players_;
  std::vector<std::unique_ptr<SharedObjectClient>> shared_objects_;

  std::uint64_t received_ = 0;
  std::uint64_t acknowledged_ = 0;
  std::uint32_t peer_window_ = 0;  // the peer's Window Acknowledgement Size: we ack each window
  std::uint64_t received_at_last_ping_ = 0;
  bool ping_outstanding_ = false;
  std::unique_ptr<Timer> ping_timer_;
  std::unique_ptr<Timer> handshake_timer_;

  // Server-side applications (weir/services/apps.h): while a hook runs, commands wait there; media flows on.
  AppBridge app_bridge_;
};

/// Splits "name?query" and returns the name (query arguments are for Lua hooks, later).
std::string_view strip_query(std::string_view name) noexcept;

}  // namespace weir::rtmp
