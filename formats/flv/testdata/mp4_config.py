#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Prints the codec configuration of the first track of an MP4 file, in the form FLV / E-RTMP
# sequence headers carry it: avcC, hvcC, av1C, vpcC as they are; the AudioSpecificConfig out of
# esds; dOps turned into an Opus ID header ("OpusHead"); dfLa turned into "fLaC" + metadata blocks.
# Usage: mp4_config.py file.mp4 avcC|hvcC|av1C|vpcC|esds|dOps|dfLa > out.bin
import struct
import sys

CONTAINERS = {b'moov', b'trak', b'mdia', b'minf', b'stbl'}
SAMPLE_ENTRY_HEADER = {b'avc1': 78, b'avc3': 78, b'hev1': 78, b'hvc1': 78, b'av01': 78, b'vp09': 78,
                       b'mp4a': 28, b'Opus': 28, b'fLaC': 28}


def boxes(data, start, end):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack('>I4s', data[i:i + 8])
        header = 8
        if size == 1:
            size = struct.unpack('>Q', data[i + 8:i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        yield kind, i + header, i + size
        i += size


def collect(data, start, end, found):
    for kind, body, stop in boxes(data, start, end):
        if kind in CONTAINERS:
            collect(data, body, stop, found)
        elif kind == b'stsd':
            collect(data, body + 8, stop, found)
        elif kind in SAMPLE_ENTRY_HEADER:
            collect(data, body + SAMPLE_ENTRY_HEADER[kind], stop, found)
        else:
            found.setdefault(kind, data[body:stop])


def descriptor(d, i):
    tag = d[i]
    i += 1
    n = 0
    while True:
        b = d[i]
        i += 1
        n = (n << 7) | (b & 0x7f)
        if not b & 0x80:
            return tag, i, n


def audio_specific_config(esds):
    d = esds[4:]                  # FullBox version and flags
    _, i, _ = descriptor(d, 0)    # ES_Descriptor
    i += 3                        # ES_ID, flags
    _, i, _ = descriptor(d, i)    # DecoderConfigDescriptor
    i += 13
    tag, i, n = descriptor(d, i)  # DecoderSpecificInfo
    assert tag == 5
    return d[i:i + n]


def opus_head(dops):
    version, channels, pre_skip, rate, gain, family = struct.unpack('>BBHIhB', dops[:11])
    head = b'OpusHead' + struct.pack('<BBHIhB', 1, channels, pre_skip, rate, gain, family)
    return head + dops[11:]


data = open(sys.argv[1], 'rb').read()
found = {}
collect(data, 0, len(data), found)
kind = sys.argv[2].encode()
body = found[kind]
if kind == b'esds':
    body = audio_specific_config(body)
elif kind == b'dOps':
    body = opus_head(body)
elif kind == b'dfLa':
    body = b'fLaC' + body[4:]
sys.stdout.buffer.write(body)
