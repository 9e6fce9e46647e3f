#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Remakes the captures in this folder (ffmpeg 5.1, GStreamer 1.22 of Debian 12). The tests only read
# the results. Each file is the bytes one peer wrote on one RTSP connection, cut at 12000 bytes.
set -e
cd "$(dirname "$0")"
PY=/usr/bin/python3
SRC="-re -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000"

# ffmpeg publishing (ANNOUNCE/SETUP/RECORD): H.264 + AAC over TCP and UDP, H.265 + Opus, Digest.
$PY capture.py record ffmpeg_record_tcp.bin -- ffmpeg $SRC -c:v libx264 -g 25 -c:a aac -t 2 \
  -rtsp_transport tcp -f rtsp rtsp://127.0.0.1:{port}/live/x
$PY capture.py record ffmpeg_record_udp.bin -- ffmpeg $SRC -c:v libx264 -g 25 -c:a aac -t 2 \
  -f rtsp rtsp://127.0.0.1:{port}/live/x?token=abc%20d
$PY capture.py record ffmpeg_record_hevc_opus.bin -- ffmpeg $SRC -c:v libx265 -g 25 -c:a libopus \
  -t 2 -rtsp_transport tcp -f rtsp rtsp://127.0.0.1:{port}/live/hevc
$PY capture.py record ffmpeg_record_digest.bin --digest -- ffmpeg $SRC -c:v libx264 -c:a aac -t 1 \
  -rtsp_transport tcp -f rtsp rtsp://alice:secret@127.0.0.1:{port}/live/auth
$PY capture.py record ffmpeg_record_basic.bin --basic -- ffmpeg $SRC -c:v libx264 -c:a aac -t 1 \
  -rtsp_transport tcp -f rtsp rtsp://bob:pa%3Ass@127.0.0.1:{port}/live/auth

# GStreamer's rtspclientsink publishing H.264 + Opus over TCP.
$PY capture.py record gst_record_tcp.bin -- gst-launch-1.0 -q \
  rtspclientsink name=s location=rtsp://127.0.0.1:{port}/live/gst protocols=tcp \
  videotestsrc num-buffers=50 ! video/x-raw,width=320,height=240 ! openh264enc ! h264parse ! s. \
  audiotestsrc num-buffers=50 ! opusenc ! s.

# ffmpeg playing from GStreamer's RTSP server through a recording proxy: both directions.
for codec in h264 h265; do
  port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $PY gst_server.py $port $codec & server=$!
  sleep 2
  $PY capture.py proxy ffmpeg_play_tcp_${codec}.bin gst_server_tcp_${codec}.bin $port -- \
    ffmpeg -rtsp_transport tcp -i rtsp://127.0.0.1:{port}/test -t 1 -f null -
  $PY capture.py proxy ffmpeg_play_udp_${codec}.bin gst_server_udp_${codec}.bin $port -- \
    ffmpeg -rtsp_transport udp -i rtsp://127.0.0.1:{port}/test -t 1 -f null -
  kill $server
done
