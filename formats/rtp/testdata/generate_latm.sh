#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates the MP4A-LATM captures (RFC 6416) with Debian 12's GStreamer 1.22 and ffmpeg 5.1.
# Run from this folder; latm_capture_test.cc reads the results (its expectations come from these
# files: regenerating may change counts and the config= strings, re-check them).
set -e
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# 20 frames of stereo AAC-LC 44.1 kHz at 128 kb/s (frames of 300-400 bytes: past 255, so their
# PayloadLengthInfo takes two bytes), kept as ADTS: the frames the payloads must give back.
gst-launch-1.0 -q audiotestsrc num-buffers=20 ! audio/x-raw,rate=44100,channels=2 ! audioconvert \
  ! avenc_aac bitrate=128000 ! aacparse ! audio/mpeg,stream-format=adts ! filesink location=latm_frames.aac

# GStreamer's rtpmp4apay (what rtspclientsink picks for AAC): one AudioMuxElement per packet, and
# with mtu=200 each element fragmented over packets, the marker on the last. -v prints the caps with
# config= (the StreamMuxConfig); it is kept beside the capture.
for mtu in 1400 200; do
  ./capture_rtp.py "$T/gst$mtu" -- gst-launch-1.0 -v filesrc location=latm_frames.aac ! aacparse \
    ! rtpmp4apay mtu=$mtu ! udpsink host=127.0.0.1 port={a} > "$T/gst$mtu.log"
  cp "$T/gst${mtu}_audio_rtp.packets" gst_latm_mtu$mtu.packets
  grep -o 'config=(string)[0-9a-f]*' "$T/gst$mtu.log" | head -1 | cut -d')' -f2 > gst_latm_mtu$mtu.config
done

# ffmpeg's RTP muxer with -rtpflags latm, and its SDP (fmtp config=).
./capture_rtp.py "$T/ff" -- ffmpeg -hide_banner -loglevel error -y -i latm_frames.aac -c copy -f rtp \
  -rtpflags latm "rtp://127.0.0.1:{a}" -sdp_file "$T/ff.sdp"
cp "$T/ff_audio_rtp.packets" ffmpeg_latm.packets
cp "$T/ff.sdp" ffmpeg_latm.sdp
