#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Builds the two hand-made SPS NAL units in ../codec_config_test.cc: syntax that x264/x265 never
# write (SPS scaling lists, pic_order_cnt_type 1, field coding with left/right cropping, emulation
# prevention bytes; HEVC sub-layer profile/level, 4:2:2 conformance window, high tier).
# Each was checked once with ffmpeg 5.1 by splicing it into an x264/x265 Annex B stream in place of
# the encoder's SPS and reading it back with `-bsf:v trace_headers` and ffprobe:
#   H.264: coded 1920x1088 (fields), cropped 1904x1080;  HEVC: Main 10 high tier level 150,
#   1280x728 4:2:2 10-bit, window 1272x726.
# Usage: synthetic_sps.py avc|hevc   (prints a C++ initializer list)
import sys


class BitWriter:
    def __init__(self):
        self.bits = []

    def u(self, n, v):
        for i in range(n - 1, -1, -1):
            self.bits.append((v >> i) & 1)

    def ue(self, v):
        v += 1
        n = v.bit_length()
        self.u(n - 1, 0)
        self.u(n, v)

    def se(self, v):
        self.ue(2 * v - 1 if v > 0 else -2 * v)

    def rbsp(self):
        b = self.bits + [1]  # rbsp_stop_one_bit
        while len(b) % 8:
            b.append(0)
        return bytes(int(''.join(map(str, b[i:i + 8])), 2) for i in range(0, len(b), 8))


def escape(rbsp):
    out = bytearray()
    zeros = 0
    for x in rbsp:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def avc():
    w = BitWriter()
    w.u(8, 100)                    # profile_idc: High
    w.u(8, 0)                      # constraint flags
    w.u(8, 40)                     # level_idc 4.0
    w.ue(0)                        # seq_parameter_set_id
    w.ue(1)                        # chroma_format_idc 4:2:0
    w.ue(0); w.ue(0)               # bit depths 8
    w.u(1, 0)                      # qpprime_y_zero_transform_bypass_flag
    w.u(1, 1)                      # seq_scaling_matrix_present_flag
    w.u(1, 1)                      # list 0: explicit 4x4
    for j in range(16):
        w.se(8 if j == 0 else 0)
    w.u(1, 1); w.se(-8)            # list 1: nextScale 0 at once = use the default list
    for _ in range(4):
        w.u(1, 0)                  # lists 2-5 absent
    w.u(1, 1)                      # list 6: explicit 8x8
    for j in range(64):
        w.se(8 if j == 0 else 0)
    w.u(1, 0)                      # list 7 absent
    w.ue(0)                        # log2_max_frame_num_minus4
    w.ue(1)                        # pic_order_cnt_type 1
    w.u(1, 0)                      # delta_pic_order_always_zero_flag
    w.se(-(1 << 23))               # offset_for_non_ref_pic: long code, zero bytes -> escapes
    w.se(1)                        # offset_for_top_to_bottom_field
    w.ue(3)                        # num_ref_frames_in_pic_order_cnt_cycle
    w.se(2); w.se(-2); w.se(0)
    w.ue(4)                        # max_num_ref_frames
    w.u(1, 0)                      # gaps_in_frame_num_value_allowed_flag
    w.ue(119)                      # pic_width_in_mbs_minus1: 1920
    w.ue(33)                       # pic_height_in_map_units_minus1: 34 field MB rows = 1088
    w.u(1, 0)                      # frame_mbs_only_flag 0
    w.u(1, 1)                      # mb_adaptive_frame_field_flag
    w.u(1, 1)                      # direct_8x8_inference_flag
    w.u(1, 1)                      # frame_cropping_flag
    w.ue(2); w.ue(6); w.ue(0); w.ue(2)  # left 4, right 12, bottom 8 luma samples
    w.u(1, 0)                      # vui_parameters_present_flag
    return b'\x67' + escape(w.rbsp())


def hevc():
    def profile(w):
        w.u(2, 0); w.u(1, 1); w.u(5, 2)          # profile space 0, high tier, Main 10
        w.u(32, 0x20000000)                      # compatibility flag 2
        w.u(4, 0b1001); w.u(43, 0); w.u(1, 0)    # progressive, frame only
    w = BitWriter()
    w.u(4, 0); w.u(3, 1); w.u(1, 1)              # vps id, max_sub_layers_minus1 1, nesting
    profile(w); w.u(8, 150)                      # general level 5.0
    w.u(1, 1); w.u(1, 1)                         # sub-layer 0 profile and level present
    for _ in range(1, 8):
        w.u(2, 0)
    profile(w); w.u(8, 120)                      # sub-layer 0 level 4.0
    w.ue(0)                                      # sps id
    w.ue(2)                                      # chroma_format_idc 4:2:2
    w.ue(1280); w.ue(728)
    w.u(1, 1); w.ue(3); w.ue(1); w.ue(0); w.ue(2)  # window: 8 luma left+right, 2 bottom
    w.ue(2); w.ue(2)                             # 10-bit
    w.ue(4); w.u(1, 1)                           # poc lsb, sub-layer ordering info
    for _ in range(2):
        w.ue(4); w.ue(2); w.ue(0)
    w.ue(0); w.ue(3); w.ue(0); w.ue(3); w.ue(0); w.ue(0)
    w.u(1, 0); w.u(1, 0); w.u(1, 0); w.u(1, 0)
    w.ue(0); w.u(1, 0); w.u(1, 0); w.u(1, 0); w.u(1, 0); w.u(1, 0)
    return b'\x42\x01' + escape(w.rbsp())


nal = avc() if sys.argv[1] == 'avc' else hevc()
print(', '.join('0x%02x' % b for b in nal))
