# SPDX-License-Identifier: Apache-2.0
"""A small RTMP client for tests: plain handshake, chunk stream both ways, AMF0 commands, and
enough media parsing to count audio/video messages. Independent of the server's code, so a test
checks the server against our reading of the spec, not against itself."""
import socket
import struct
import time


# ---- AMF0 ----
def amf_encode(value):
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, str):
        data = value.encode()
        return b"\x02" + struct.pack(">H", len(data)) + data
    if isinstance(value, dict):
        out = b"\x03"
        for k, v in value.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf_encode(v)
        return out + b"\x00\x00\x09"
    raise TypeError(type(value))


def amf_decode(data, pos=0):
    marker = data[pos]
    pos += 1
    if marker == 0x00:
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == 0x01:
        return data[pos] != 0, pos + 1
    if marker == 0x02:
        n = struct.unpack_from(">H", data, pos)[0]
        return data[pos + 2:pos + 2 + n].decode(), pos + 2 + n
    if marker in (0x03, 0x08):
        if marker == 0x08:
            pos += 4
        obj = {}
        while True:
            n = struct.unpack_from(">H", data, pos)[0]
            pos += 2
            if n == 0 and data[pos] == 0x09:
                return obj, pos + 1
            key = data[pos:pos + n].decode()
            pos += n
            obj[key], pos = amf_decode(data, pos)
    if marker in (0x05, 0x06):
        return None, pos
    raise ValueError(f"amf0 marker {marker:#x} at {pos - 1}")


def amf_decode_all(data):
    values, pos = [], 0
    while pos < len(data):
        value, pos = amf_decode(data, pos)
        values.append(value)
    return values


class RtmpClient:
    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.in_chunk = 128
        self.out_chunk = 128
        self.prev = {}      # csid -> [timestamp, length, type, stream id, delta]
        self.partial = {}   # csid -> bytearray
        self.messages = []  # (type, stream id, timestamp, payload) not yet consumed
        self.txn = 1
        self.received_bytes = 0

    # -- bytes --
    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        self.received_bytes += len(data)
        self.buf += data

    def _need(self, n):
        while len(self.buf) < n:
            self._recv()

    def _take(self, n):
        self._need(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        c1 = struct.pack(">II", 0, 0) + bytes(1528)
        self.sock.sendall(b"\x03" + c1)
        s0s1 = self._take(1537)
        assert s0s1[0] == 3, f"S0 version {s0s1[0]}"
        self.sock.sendall(s0s1[1:])  # C2 echoes S1
        self._take(1536)             # S2

    # -- chunk stream out --
    def send_message(self, csid, msg_type, stream_id, payload, timestamp=0):
        header = bytes([csid]) + struct.pack(">I", timestamp)[1:] + struct.pack(">I", len(payload))[1:] \
            + bytes([msg_type]) + struct.pack("<I", stream_id)
        out = header + payload[:self.out_chunk]
        rest = payload[self.out_chunk:]
        while rest:
            out += bytes([0xC0 | csid]) + rest[:self.out_chunk]
            rest = rest[self.out_chunk:]
        self.sock.sendall(out)

    def command(self, name, *args, stream_id=0, txn=None):
        if txn is None:
            txn = self.txn
            self.txn += 1
        payload = amf_encode(name) + amf_encode(txn) + b"".join(amf_encode(a) for a in args)
        self.send_message(3, 20, stream_id, payload)
        return txn

    # -- chunk stream in --
    def read_message(self):
        while True:
            b0 = self._take(1)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self._take(1)[0]
            elif csid == 1:
                lo, hi = self._take(2)
                csid = 64 + lo + hi * 256
            prev = self.prev.get(csid, [0, 0, 0, 0, 0])
            if fmt == 0:
                h = self._take(11)
                ts = int.from_bytes(h[0:3], "big")
                prev[1], prev[2] = int.from_bytes(h[3:6], "big"), h[6]
                prev[3] = struct.unpack("<I", h[7:11])[0]
                if ts == 0xFFFFFF:
                    ts = struct.unpack(">I", self._take(4))[0]
                prev[0], prev[4] = ts, 0
            elif fmt in (1, 2):
                h = self._take(7 if fmt == 1 else 3)
                delta = int.from_bytes(h[0:3], "big")
                if fmt == 1:
                    prev[1], prev[2] = int.from_bytes(h[3:6], "big"), h[6]
                if delta == 0xFFFFFF:
                    delta = struct.unpack(">I", self._take(4))[0]
                prev[4] = delta
                prev[0] = (prev[0] + delta) & 0xFFFFFFFF
            else:
                if csid not in self.partial:  # a new message repeating the last delta
                    prev[0] = (prev[0] + prev[4]) & 0xFFFFFFFF
            self.prev[csid] = prev
            part = self.partial.setdefault(csid, bytearray())
            part += self._take(min(self.in_chunk, prev[1] - len(part)))
            if len(part) < prev[1]:
                continue
            del self.partial[csid]
            msg = (prev[2], prev[3], prev[0], bytes(part))
            if msg[0] == 1:
                self.in_chunk = struct.unpack(">I", msg[3][:4])[0]
            return msg

    def wait_for(self, predicate, timeout=10):
        """Reads messages until predicate(msg) is true; returns it. Others are kept."""
        deadline = time.time() + timeout
        for i, msg in enumerate(self.messages):
            if predicate(msg):
                return self.messages.pop(i)
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            msg = self.read_message()
            if predicate(msg):
                return msg
            self.messages.append(msg)
        raise TimeoutError("no matching message")

    def wait_status(self, timeout=10):
        msg = self.wait_for(lambda m: m[0] == 20 and amf_decode_all(m[3])[0] in ("onStatus", "_error"), timeout)
        values = amf_decode_all(msg[3])
        return values[3] if len(values) > 3 else values

    def wait_result(self, txn, timeout=10):
        def match(m):
            if m[0] != 20:
                return False
            v = amf_decode_all(m[3])
            return v[0] in ("_result", "_error") and v[1] == txn
        return amf_decode_all(self.wait_for(match, timeout)[3])

    # -- sessions --
    def connect(self, app, tc_url=None):
        self.handshake()
        txn = self.command("connect", {"app": app, "flashVer": "LNX 9,0,124,2",
                                       "tcUrl": tc_url or f"rtmp://127.0.0.1/{app}", "objectEncoding": 0})
        result = self.wait_result(txn)
        assert result[0] == "_result", result
        return result

    def create_stream(self):
        txn = self.command("createStream", None)
        result = self.wait_result(txn)
        return int(result[3])

    def publish(self, name):
        sid = self.create_stream()
        self.command("publish", None, name, "live", stream_id=sid, txn=0)
        return sid, self.wait_status()

    def play(self, name):
        sid = self.create_stream()
        self.command("play", None, name, -2, stream_id=sid, txn=0)
        return sid, self.wait_status()

    def close(self):
        self.sock.close()
