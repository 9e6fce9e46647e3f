// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspSession: one RTSP connection (RFC 2326; RTSP 2.0 requests are answered as 1.0), on its poll group.
//
//   bytes --> MessageReader --> request  --> handle_request(): OPTIONS DESCRIBE SETUP PLAY PAUSE
//                   |                         TEARDOWN ANNOUNCE RECORD GET_PARAMETER SET_PARAMETER
//                   +---------> $ frame  --> publisher's RTP/RTCP (RtspIngest) or a player's RTCP
//   UDP datagrams from the client's ports (routed by the group) --> the same two
//
//   players: RtspPlayer (player.h) sends the group's shared packets (stream_out.h).
//   publishers: RtspIngest (ingest.h) turns RTP into frames of a Publication.
//   applications: the same apps service and hooks as RTMP (connect, play, publish...).
//
// One RTSP session per connection; it ends with the connection (TEARDOWN closes it).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/message.h"
#include "ingest.h"
#include "rtsp_group.h"
#include "weir/connection.h"
#include "weir/log.h"
#include "weir/services/apps.h"
#include "weir/udp.h"

namespace weir::rtsp {

class RtspPlayer;
class RtspAppClient;

class RtspSession final : public ConnectionHandler, public IngestHost, private DatagramTarget {
 public:
  RtspSession(Connection& connection, RtspGroup& group);
  ~RtspSession() override;

  Status on_data(const PageSlice& data) noexcept override;
  void on_close(const Status& reason) noexcept override;

  Connection& connection() noexcept override { return connection_; }
  RtspGroup& group() noexcept override { return group_; }
  const Logger& logger() const noexcept override { return group_.logger(); }
  std::string_view publish_protocol() const noexcept override { return "rtsp"; }
  SenderState sender_state() const noexcept { return connection_.sender_state(); }
  /// Closes the connection now (a player past the hard limit, a broken publisher).
  void fail(Status reason) override;
  /// Ends the session once what is queued has left (unpublished stream, TEARDOWN).
  void end(Status reason);
  /// A player's stream delivered frames: a DESCRIBE or SETUP waiting for the headers may go on.
  void on_stream_ready();
  /// The client was heard from (a request, RTCP, media): the session timeout restarts.
  void touch() noexcept { last_heard_ = group_.poll_group().now(); }
  /// Routes datagrams from `peer` to this session (UDP transport); false when taken.
  bool route(const UdpPeer& peer) override;
  /// The client's host as UDP destinations need it.
  const std::string& peer_host() const noexcept override { return peer_host_; }

 private:
  using Request = formats::rtsp::Request;
  void on_datagram(const PageSlice& data, const UdpPeer& from, bool rtcp) noexcept override;
  Status process();
  void handle(const Request& request);
  void reply(const Request& request, int status, std::vector<formats::rtsp::Header> headers = {},
             std::string body = {});
  void refuse(const Request& request, int status, std::string_view why);

  void on_options(const Request& request);
  void on_describe(const Request& request);
  void on_setup(const Request& request);
  void on_play(const Request& request);
  void on_pause(const Request& request);
  void on_teardown(const Request& request);
  void on_announce(const Request& request);
  void on_record(const Request& request);

  /// Asks the app's `hook` (connect first, once) and runs `then` with the verdict; the requests
  /// behind wait until then.
  void ask(const Request& request, AppHook hook, Value stream, std::function<void(const AppVerdict&)> then);
  /// Holds the requests behind this one until resume().
  void hold() noexcept { held_ = true; }
  void resume();
  /// The session header matches ours (or the request has none and we have no session yet).
  bool session_matches(const Request& request, bool required);
  std::string base_url(const Request& request) const;
  /// Applies an accepting verdict: its values (not the secrets) to the client, its lifetime.
  void apply(const AppVerdict& verdict);
  /// Whether Digest `credentials` answer our challenge with the password (or HA1) the
  /// application's verdict gave for the user.
  bool digest_accepted(const Request& request, const formats::rtsp::DigestCredentials& credentials,
                       const AppVerdict& verdict);
  const std::string& nonce();
  void start_session_timer();
  void schedule_reports();
  void answer_pending();
  /// Subscribes a player of `key` (`requested`: the URL's stream, which SETUPs name) and answers
  /// `request` once it can be described; with `may_ask`, a name nobody publishes goes to the
  /// app's on_stream_not_found, whose verdict may rename it or name where to pull it from
  /// (`source`: SubscribeOptions::source).
  void play_stream(const Request& request, StreamKey requested, StreamKey key, Value stream, bool may_ask,
                   std::string source);
  /// Gives back the multicast address and membership this session holds.
  void leave_multicast() noexcept;

  Connection& connection_;
  RtspGroup& group_;
  formats::rtsp::MessageReader reader_;
  PageSlice borrowed_;  // the bytes the reader has not read yet (it does not copy them)
  std::string peer_host_;
  std::string session_id_;
  std::string app_;
  std::unique_ptr<RtspPlayer> player_;
  StreamKey requested_;  // the stream the client's URL named (the player's key, unless the app renamed it)
  std::unique_ptr<RtspIngest> ingest_;
  std::vector<UdpPeer> routes_;
  // A DESCRIBE (or SETUP without one) waiting for the stream's headers.
  std::optional<Request> pending_;
  std::unique_ptr<Timer> pending_timer_;
  bool held_ = false;
  bool connected_ = false;  // the app's connect hook accepted (or there is none)
  bool closing_ = false;
  Clock::time_point last_heard_;
  std::unique_ptr<Timer> session_timer_;
  std::unique_ptr<Timer> report_timer_;
  std::unique_ptr<Timer> lifetime_timer_;
  std::string nonce_;  // of our Digest challenges, one per connection
  std::shared_ptr<RtspAppClient> app_client_;
  // Multicast: the stream whose group address this session holds, and whether it joined (PLAY).
  std::optional<StreamKey> multicast_key_;
  UdpPeer multicast_address_;
  bool multicast_joined_ = false;
};

}  // namespace weir::rtsp
