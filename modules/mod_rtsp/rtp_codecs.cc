// SPDX-License-Identifier: Apache-2.0
#include "rtp_codecs.h"

#include "formats/rtp/aac.h"
#include "formats/rtp/audio_frames.h"
#include "formats/rtp/h264.h"
#include "formats/rtp/hevc.h"
#include "formats/rtp/latm.h"

namespace weir::rtsp {
namespace rtp = formats::rtp;

bool rtp_can_carry(Codec codec) noexcept {
  switch (codec) {
    case Codec::h264:
    case Codec::hevc:
    case Codec::aac:
    case Codec::opus:
    case Codec::pcma:
    case Codec::pcmu: return true;
    default: return false;
  }
}

namespace {

class H264Out final : public OutCodec {
 public:
  explicit H264Out(std::size_t max_payload) : packetizer_(max_payload) {}
  Status configure(std::span<const std::uint8_t> config) override {
    auto sets = rtp::avc_parameter_sets(config);
    if (!sets) return sets.error();
    nal_length_size_ = sets->nal_length_size;
    parameter_sets_.clear();
    for (auto s : sets->sps) parameter_sets_.emplace_back(s.begin(), s.end());
    for (auto s : sets->pps) parameter_sets_.emplace_back(s.begin(), s.end());
    packetizer_.insert_parameter_sets(sets->sps, sets->pps);
    return ok();
  }
  Status packetize(std::span<const std::uint8_t> data, rtp::PayloadSink& sink) override {
    return packetizer_.packetize(data, nal_length_size_, sink);
  }
  const std::vector<std::vector<std::uint8_t>>& parameter_sets() const noexcept override { return parameter_sets_; }

 private:
  rtp::H264Packetizer packetizer_;
  std::uint8_t nal_length_size_ = 4;
  std::vector<std::vector<std::uint8_t>> parameter_sets_;
};

class HevcOut final : public OutCodec {
 public:
  explicit HevcOut(std::size_t max_payload) : packetizer_(max_payload) {}
  Status configure(std::span<const std::uint8_t> config) override {
    auto sets = rtp::hevc_parameter_sets(config);
    if (!sets) return sets.error();
    nal_length_size_ = sets->nal_length_size;
    parameter_sets_.clear();
    for (auto s : sets->vps) parameter_sets_.emplace_back(s.begin(), s.end());
    for (auto s : sets->sps) parameter_sets_.emplace_back(s.begin(), s.end());
    for (auto s : sets->pps) parameter_sets_.emplace_back(s.begin(), s.end());
    packetizer_.insert_parameter_sets(sets->vps, sets->sps, sets->pps);
    return ok();
  }
  Status packetize(std::span<const std::uint8_t> data, rtp::PayloadSink& sink) override {
    return packetizer_.packetize(data, nal_length_size_, sink);
  }
  const std::vector<std::vector<std::uint8_t>>& parameter_sets() const noexcept override { return parameter_sets_; }

 private:
  rtp::HevcPacketizer packetizer_;
  std::uint8_t nal_length_size_ = 4;
  std::vector<std::vector<std::uint8_t>> parameter_sets_;
};

// Audio: each frame stands alone; the configuration goes in the SDP only.
template <class Packetizer>
class AudioOut final : public OutCodec {
 public:
  explicit AudioOut(Packetizer packetizer) : packetizer_(std::move(packetizer)) {}
  Status configure(std::span<const std::uint8_t>) override { return ok(); }
  Status packetize(std::span<const std::uint8_t> data, rtp::PayloadSink& sink) override {
    return packetizer_.packetize(data, sink);
  }
  const std::vector<std::vector<std::uint8_t>>& parameter_sets() const noexcept override { return none_; }
  std::uint32_t samples_per_packet() const noexcept override {
    if constexpr (requires(const Packetizer& p) { p.samples_per_packet(); }) return packetizer_.samples_per_packet();
    else return 0;
  }

 private:
  Packetizer packetizer_;
  std::vector<std::vector<std::uint8_t>> none_;
};

template <class Depacketizer, bool kIsH264>
class NalIn final : public InCodec {
 public:
  Status push(const rtp::RtpPacket& packet, bool follows_loss, rtp::AccessUnitSink& sink) override {
    return depacketizer_.push(packet, follows_loss, sink);
  }
  void set_parameter_sets(std::span<const std::span<const std::uint8_t>> nals) override {
    depacketizer_.set_parameter_sets(nals);
  }
  std::vector<std::uint8_t> take_new_config() override {
    if (!depacketizer_.take_parameter_sets_changed() && !pending_) return {};
    pending_ = true;
    Result<std::vector<std::uint8_t>> record = std::vector<std::uint8_t>{};
    if constexpr (kIsH264) {
      if (depacketizer_.sps().empty() || depacketizer_.pps().empty()) return {};
      record = rtp::build_avc_decoder_config(depacketizer_.sps(), depacketizer_.pps());
    } else {
      if (depacketizer_.vps().empty() || depacketizer_.sps().empty() || depacketizer_.pps().empty()) return {};
      record = rtp::build_hevc_decoder_config(depacketizer_.vps(), depacketizer_.sps(), depacketizer_.pps());
    }
    pending_ = false;
    if (!record) return {};
    return std::move(*record);
  }
  const rtp::DepacketizerCounters& counters() const noexcept override { return depacketizer_.counters(); }

 private:
  Depacketizer depacketizer_;
  bool pending_ = false;  // the sets changed but are not all known yet
};

class AacIn final : public InCodec {
 public:
  explicit AacIn(rtp::AacPayloadConfig config) : depacketizer_(config) {}
  Status push(const rtp::RtpPacket& packet, bool follows_loss, rtp::AccessUnitSink& sink) override {
    return depacketizer_.push(packet, follows_loss, sink);
  }
  const rtp::DepacketizerCounters& counters() const noexcept override { return depacketizer_.counters(); }

 private:
  rtp::AacDepacketizer depacketizer_;
};

class LatmIn final : public InCodec {
 public:
  explicit LatmIn(rtp::LatmConfig config) : depacketizer_(std::move(config)) {}
  Status push(const rtp::RtpPacket& packet, bool follows_loss, rtp::AccessUnitSink& sink) override {
    return depacketizer_.push(packet, follows_loss, sink);
  }
  const rtp::DepacketizerCounters& counters() const noexcept override { return depacketizer_.counters(); }

 private:
  rtp::LatmDepacketizer depacketizer_;
};

class FrameIn final : public InCodec {
 public:
  Status push(const rtp::RtpPacket& packet, bool, rtp::AccessUnitSink& sink) override {
    depacketizer_.push(packet, sink);
    return ok();
  }
  const rtp::DepacketizerCounters& counters() const noexcept override { return depacketizer_.counters(); }

 private:
  rtp::FrameDepacketizer depacketizer_;
};

}  // namespace

std::unique_ptr<OutCodec> make_out_codec(Codec codec, std::size_t max_payload) {
  switch (codec) {
    case Codec::h264: return std::make_unique<H264Out>(max_payload);
    case Codec::hevc: return std::make_unique<HevcOut>(max_payload);
    case Codec::aac: return std::make_unique<AudioOut<rtp::AacPacketizer>>(rtp::AacPacketizer(max_payload));
    case Codec::opus: return std::make_unique<AudioOut<rtp::OpusPacketizer>>(rtp::OpusPacketizer(max_payload));
    case Codec::pcma:
    case Codec::pcmu: return std::make_unique<AudioOut<rtp::G711Packetizer>>(rtp::G711Packetizer(1, max_payload));
    default: return nullptr;
  }
}

std::unique_ptr<InCodec> make_in_codec(Codec codec, const InCodecOptions& options) {
  switch (codec) {
    case Codec::h264: return std::make_unique<NalIn<rtp::H264Depacketizer, true>>();
    case Codec::hevc: return std::make_unique<NalIn<rtp::HevcDepacketizer, false>>();
    case Codec::aac: {
      if (!options.aac_latm_config.empty()) {
        auto latm = rtp::parse_stream_mux_config(options.aac_latm_config);
        if (!latm) return nullptr;
        return std::make_unique<LatmIn>(std::move(*latm));
      }
      rtp::AacPayloadConfig config;
      config.size_length = options.aac_size_length;
      config.index_length = options.aac_index_length;
      config.index_delta_length = options.aac_index_delta_length;
      return std::make_unique<AacIn>(config);
    }
    case Codec::opus:
    case Codec::pcma:
    case Codec::pcmu: return std::make_unique<FrameIn>();
    default: return nullptr;
  }
}

Result<std::vector<std::uint8_t>> latm_audio_specific_config(std::span<const std::uint8_t> stream_mux_config) {
  auto latm = rtp::parse_stream_mux_config(stream_mux_config);
  if (!latm) return latm.error();
  return std::move(latm->audio_specific_config);
}

}  // namespace weir::rtsp
