#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates the files in this folder with Debian 12's ffmpeg 5.1 (libx264). Run from this
# folder; the tests only read the results (the expectations in ../ffmpeg_capture_test.cc come from
# these files: regenerating may change counts, re-check them).
set -e
Q="-hide_banner -loglevel error -y"

# 1 s of H.264 High 320x180, GOP 10 (3 IDRs), B-frames, and mono AAC-LC 44.1 kHz, in FLV: the form
# mod_rtsp gets from the kernel (AVCC access units, AudioSpecificConfig).
ffmpeg $Q -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 1 \
  -c:v libx264 -preset veryfast -crf 36 -g 10 -bf 2 -c:a aac -b:a 32k -ac 1 -f flv h264_aac.flv

# The same file sent by ffmpeg's RTP muxer (video and audio to two port pairs, real time so that
# RTCP goes out as it would live), every RTP and RTCP datagram captured as it arrived, and the SDP.
./capture_rtp.py ffmpeg -- ffmpeg $Q -re -i h264_aac.flv \
  -map 0:v -c copy -f rtp -ssrc 287454020 "rtp://127.0.0.1:{v}" \
  -map 0:a -c copy -f rtp -ssrc 1432778632 "rtp://127.0.0.1:{a}" -sdp_file ffmpeg.sdp

# 7 s encoded live (the command of issue 11), for RTCP: sender reports at the start and after 5 s,
# and a BYE at the end (-rtpflags send_bye). Only the RTCP flows are kept.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
./capture_rtp.py "$T/live" -- ffmpeg $Q -re -t 7 -f lavfi -i testsrc=size=160x120:rate=10 -re -t 7 -f lavfi -i sine=sample_rate=48000 \
  -map 0:v -c:v libx264 -preset ultrafast -f rtp -rtpflags send_bye "rtp://127.0.0.1:{v}" \
  -map 1:a -c:a aac -f rtp -rtpflags send_bye "rtp://127.0.0.1:{a}"
cp "$T/live_video_rtcp.packets" ffmpeg_live_video_rtcp.packets
cp "$T/live_audio_rtcp.packets" ffmpeg_live_audio_rtcp.packets
