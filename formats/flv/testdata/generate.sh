#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates the files in this folder with Debian 12's ffmpeg 5.1 (libx264, libx265, libaom,
# libvpx, libopus, libmp3lame, libspeex). Run from this folder; the tests only read the results.
# The expectations in ../ffmpeg_files_test.cc come from ffprobe on these files: regenerating with
# another ffmpeg may change sizes and frame counts, so re-check them with ffprobe.
set -e
Q="-hide_banner -loglevel error -y"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# 2 s of H.264 High 640x360 (360 = 22.5 macroblocks: the SPS crops 8 lines), GOP 25, B-frames,
# and mono AAC-LC 44.1 kHz.
ffmpeg $Q -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 \
  -c:v libx264 -preset veryfast -crf 38 -g 25 -bf 2 -c:a aac -b:a 32k -ac 1 -f flv h264_aac.flv

# Legacy FLV codecs, a few frames each.
V="-f lavfi -i testsrc2=size=64x48:rate=10"
ffmpeg $Q $V -f lavfi -i sine=sample_rate=22050 -t 0.3 -c:v flv1 -c:a libmp3lame -ar 22050 legacy_h263_mp3.flv
ffmpeg $Q $V -f lavfi -i sine=sample_rate=8000 -t 0.3 -c:v flashsv -c:a nellymoser -ar 8000 legacy_screen_nelly8k.flv
ffmpeg $Q $V -f lavfi -i sine=sample_rate=16000 -t 0.3 -c:v flashsv2 -c:a libspeex -ar 16000 legacy_screen2_speex.flv
ffmpeg $Q -f lavfi -i sine=sample_rate=22050 -t 0.1 -c:a adpcm_swf legacy_adpcm.flv
ffmpeg $Q -f lavfi -i sine=sample_rate=22050 -t 0.05 -c:a pcm_s16le legacy_pcm_le.flv
ffmpeg $Q -f lavfi -i sine=sample_rate=8000 -t 0.1 -c:a pcm_alaw legacy_alaw.flv
ffmpeg $Q -f lavfi -i sine=sample_rate=8000 -t 0.1 -c:a pcm_mulaw legacy_mulaw.flv

# Codec configuration records, taken out of MP4 files (ffmpeg 5.1 cannot put HEVC, AV1, VP9, Opus
# or FLAC in FLV; the records are the same bytes E-RTMP sequence starts carry).
mkdir -p config
S=testsrc2
ffmpeg $Q -f lavfi -i $S=size=1920x1080:rate=25 -t 0.2 -c:v libx264 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" avcC > config/avc_high_1920x1080.avcc
ffmpeg $Q -f lavfi -i $S=size=352x200:rate=25 -t 0.2 -c:v libx264 -profile:v baseline "$T/a.mp4"
./mp4_config.py "$T/a.mp4" avcC > config/avc_baseline_352x200.avcc
ffmpeg $Q -f lavfi -i $S=size=1280x720:rate=25 -t 0.2 -c:v libx264 -pix_fmt yuv420p10le "$T/a.mp4"
./mp4_config.py "$T/a.mp4" avcC > config/avc_high10_1280x720.avcc
ffmpeg $Q -f lavfi -i $S=size=330x250:rate=25 -t 0.2 -vf format=yuv444p,crop=321:241:0:0 -c:v libx264 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" avcC > config/avc_high444_321x241.avcc
ffmpeg $Q -f lavfi -i $S=size=1920x1080:rate=25 -t 0.2 -c:v libx264 -preset ultrafast -flags +ildct+ilme \
  -x264-params interlaced=1 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" avcC > config/avc_interlaced_1920x1080.avcc
ffmpeg $Q -f lavfi -i $S=size=640x362:rate=25 -t 0.2 -c:v libx265 -x265-params log-level=error "$T/a.mp4"
./mp4_config.py "$T/a.mp4" hvcC > config/hevc_main_640x362.hvcc
ffmpeg $Q -f lavfi -i $S=size=1920x1080:rate=25 -t 0.12 -c:v libx265 -pix_fmt yuv420p10le \
  -x265-params log-level=error:temporal-layers=1 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" hvcC > config/hevc_main10_1920x1080.hvcc
ffmpeg $Q -f lavfi -i $S=size=426x240:rate=25 -t 0.12 -c:v libaom-av1 -cpu-used 8 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" av1C > config/av1_426x240.av1c
ffmpeg $Q -f lavfi -i $S=size=640x360:rate=25 -t 0.12 -c:v libvpx-vp9 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" vpcC > config/vp9_640x360.vpcc
ffmpeg $Q -f lavfi -i sine -t 0.2 -c:a aac -ar 48000 -ac 6 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" esds > config/aac_lc_48000_6ch.asc
ffmpeg $Q -f lavfi -i sine -t 0.2 -c:a aac -ar 22050 -ac 2 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" esds > config/aac_lc_22050_2ch.asc
ffmpeg $Q -f lavfi -i sine -t 0.2 -c:a libopus -ac 2 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" dOps > config/opus_2ch.opushead
ffmpeg $Q -f lavfi -i sine -t 0.2 -c:a flac -ar 48000 -strict -2 "$T/a.mp4"
./mp4_config.py "$T/a.mp4" dfLa > config/flac_48000_1ch.flachead
