# SPDX-License-Identifier: Apache-2.0
"""A small RTMP client for tests: plain handshake, chunk stream both ways, AMF0 commands, and
enough media parsing to count audio/video messages. Independent of the server's code, so a test
checks the server against our reading of the spec, not against itself."""
import socket
import struct
import threading
import time

MSG_SET_CHUNK_SIZE = 1
MSG_ABORT = 2
MSG_USER_CONTROL = 4
MSG_AUDIO = 8
MSG_VIDEO = 9
MSG_SHARED_OBJECT_AMF3 = 16
MSG_DATA_AMF0 = 18
MSG_SHARED_OBJECT_AMF0 = 19
MSG_COMMAND_AMF0 = 20

# Shared object event types (RTMP specification, shared object message).
SO_USE, SO_RELEASE, SO_REQUEST_CHANGE, SO_CHANGE, SO_SUCCESS, SO_SEND_MESSAGE, SO_STATUS, SO_CLEAR, SO_REMOVE, \
    SO_REQUEST_REMOVE, SO_USE_SUCCESS = range(1, 12)


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
    if isinstance(value, list):  # strict array
        return b"\x0a" + struct.pack(">I", len(value)) + b"".join(amf_encode(v) for v in value)
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
    if marker == 0x0A:
        n = struct.unpack_from(">I", data, pos)[0]
        pos += 4
        items = []
        for _ in range(n):
            v, pos = amf_decode(data, pos)
            items.append(v)
        return items, pos
    if marker == 0x0B:  # date: ms + timezone
        return struct.unpack_from(">d", data, pos)[0], pos + 10
    if marker == 0x0C:  # long string
        n = struct.unpack_from(">I", data, pos)[0]
        return data[pos + 4:pos + 4 + n].decode(), pos + 4 + n
    raise ValueError(f"amf0 marker {marker:#x} at {pos - 1}")


def amf_decode_all(data):
    values, pos = [], 0
    while pos < len(data):
        value, pos = amf_decode(data, pos)
        values.append(value)
    return values


# ---- shared object messages ----
def so_string(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def so_encode(name, events, version=0, persistent=False, amf3=False):
    """A shared object message's payload: events are (type, data bytes)."""
    out = (b"\x00" if amf3 else b"") + so_string(name) + struct.pack(">III", version, 2 if persistent else 0, 0)
    for kind, data in events:
        out += bytes([kind]) + struct.pack(">I", len(data)) + data
    return out


def so_decode(payload, amf3=False):
    """-> (name, version, persistent, [(type, fields)]): fields are (slot, value) for change,
    (slot,) for success/remove, (handler, [args]) for send, (code, level) for status."""
    pos = 1 if amf3 else 0
    n = struct.unpack_from(">H", payload, pos)[0]
    name = payload[pos + 2:pos + 2 + n].decode()
    pos += 2 + n
    version, flags, _ = struct.unpack_from(">III", payload, pos)
    pos += 12
    events = []
    while pos < len(payload):
        kind = payload[pos]
        length = struct.unpack_from(">I", payload, pos + 1)[0]
        data = payload[pos + 5:pos + 5 + length]
        pos += 5 + length
        if kind in (SO_CHANGE, SO_REQUEST_CHANGE):
            k = struct.unpack_from(">H", data, 0)[0]
            value = amf_decode(data, 2 + k)[0] if len(data) > 2 + k else None
            events.append((kind, (data[2:2 + k].decode(), value)))
        elif kind in (SO_SUCCESS, SO_REMOVE, SO_REQUEST_REMOVE):
            k = struct.unpack_from(">H", data, 0)[0]
            events.append((kind, (data[2:2 + k].decode(),)))
        elif kind == SO_SEND_MESSAGE:
            values = amf_decode_all(data)
            events.append((kind, (values[0], values[1:])))
        elif kind == SO_STATUS:
            k = struct.unpack_from(">H", data, 0)[0]
            code = data[2:2 + k].decode()
            k2 = struct.unpack_from(">H", data, 2 + k)[0]
            events.append((kind, (code, data[4 + k:4 + k + k2].decode())))
        else:
            events.append((kind, ()))
    return name, version, bool(flags & 2), events


# ---- chunk stream ----
def basic_header(fmt, csid):
    if csid < 64:
        return bytes([(fmt << 6) | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    return bytes([(fmt << 6) | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])


def chunk_message(csid, msg_type, stream_id, payload, timestamp=0, chunk_size=128):
    """One message as type 0 + type 3 chunks (extended timestamp repeated on type 3, as the spec
    and FFmpeg do)."""
    extended = timestamp >= 0xFFFFFF
    ts_field = 0xFFFFFF if extended else timestamp
    ext = struct.pack(">I", timestamp & 0xFFFFFFFF) if extended else b""
    out = bytearray(basic_header(0, csid) + struct.pack(">I", ts_field)[1:] + struct.pack(">I", len(payload))[1:]
                    + bytes([msg_type]) + struct.pack("<I", stream_id) + ext)
    out += payload[:chunk_size]
    rest = payload[chunk_size:]
    while rest:
        out += basic_header(3, csid) + ext + rest[:chunk_size]
        rest = rest[chunk_size:]
    return bytes(out)


# ---- FLV tag bodies (what audio/video messages carry) ----
FOURCC_HEVC = b"hvc1"


def video_info(payload):
    """{'frame_type', 'codec', 'packet_type', 'enhanced', 'fourcc'} of a video message body."""
    if not payload:
        return {"frame_type": 0, "codec": 0, "packet_type": None, "enhanced": False, "fourcc": None}
    b0 = payload[0]
    if b0 & 0x80:  # E-RTMP: IsExHeader | FrameType:3 | PacketType:4 | FourCC
        return {"frame_type": (b0 >> 4) & 7, "codec": None, "packet_type": b0 & 0x0F, "enhanced": True,
                "fourcc": bytes(payload[1:5])}
    return {"frame_type": b0 >> 4, "codec": b0 & 0x0F,
            "packet_type": payload[1] if len(payload) > 1 and (b0 & 0x0F) in (7, 12) else None,
            "enhanced": False, "fourcc": None}


def is_avc_sequence_header(payload):
    return len(payload) >= 2 and payload[0] & 0x0F == 7 and not payload[0] & 0x80 and payload[1] == 0


def is_key_frame(payload):
    info = video_info(payload)
    return info["frame_type"] == 1 and not is_avc_sequence_header(payload) \
        and not (info["enhanced"] and info["packet_type"] == 0)


class RtmpClient:
    def __init__(self, host, port, timeout=10, rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:  # SO_RCVBUF before connect: it sizes the window the server sees
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.pos = 0
        self.in_chunk = 128
        self.out_chunk = 128
        self.prev = {}      # csid -> [timestamp, length, type, stream id, delta, extended]
        self.partial = {}   # csid -> bytearray
        self.messages = []  # (type, stream id, timestamp, payload) not yet consumed
        self.txn = 1
        self.received_bytes = 0
        self.send_lock = threading.Lock()

    # -- bytes --
    # Reading parses at a cursor and commits a chunk only when all of it is in: a timeout in the
    # middle of a chunk leaves the state as it was, so the caller may simply read again.
    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        self.received_bytes += len(data)
        self.buf += data

    def _need(self, n):
        while len(self.buf) < self.pos + n:
            self._recv()

    def _take(self, n):
        self._need(n)
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def _commit(self):
        del self.buf[:self.pos]
        self.pos = 0

    def sendall(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def handshake(self):
        c1 = struct.pack(">II", 0, 0) + bytes(1528)
        self.sendall(b"\x03" + c1)
        s0s1 = self._take(1537)
        assert s0s1[0] == 3, f"S0 version {s0s1[0]}"
        self.sendall(s0s1[1:])  # C2 echoes S1
        s2 = self._take(1536)
        self._commit()
        return s0s1, s2

    # -- chunk stream out --
    def send_message(self, csid, msg_type, stream_id, payload, timestamp=0):
        self.sendall(chunk_message(csid, msg_type, stream_id, payload, timestamp, self.out_chunk))

    def set_chunk_size(self, size):
        self.send_message(2, MSG_SET_CHUNK_SIZE, 0, struct.pack(">I", size))
        self.out_chunk = size

    def command(self, name, *args, stream_id=0, txn=None):
        if txn is None:
            txn = self.txn
            self.txn += 1
        payload = amf_encode(name) + amf_encode(txn) + b"".join(amf_encode(a) for a in args)
        self.send_message(3, MSG_COMMAND_AMF0, stream_id, payload)
        return txn

    # -- chunk stream in --
    def read_message(self):
        while True:
            self.pos = 0
            b0 = self._take(1)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self._take(1)[0]
            elif csid == 1:
                lo, hi = self._take(2)
                csid = 64 + lo + hi * 256
            prev = list(self.prev.get(csid, [0, 0, 0, 0, 0, False]))
            if fmt == 0:
                h = self._take(11)
                ts = int.from_bytes(h[0:3], "big")
                prev[1], prev[2] = int.from_bytes(h[3:6], "big"), h[6]
                prev[3] = struct.unpack("<I", h[7:11])[0]
                prev[5] = ts == 0xFFFFFF
                if prev[5]:
                    ts = struct.unpack(">I", self._take(4))[0]
                prev[0], prev[4] = ts, 0
            elif fmt in (1, 2):
                h = self._take(7 if fmt == 1 else 3)
                delta = int.from_bytes(h[0:3], "big")
                if fmt == 1:
                    prev[1], prev[2] = int.from_bytes(h[3:6], "big"), h[6]
                prev[5] = delta == 0xFFFFFF
                if prev[5]:
                    delta = struct.unpack(">I", self._take(4))[0]
                prev[4] = delta
                prev[0] = (prev[0] + delta) & 0xFFFFFFFF
            else:
                if prev[5]:  # the extended timestamp is repeated on type 3 chunks
                    self._take(4)
                if csid not in self.partial:  # a new message repeating the last delta
                    prev[0] = (prev[0] + prev[4]) & 0xFFFFFFFF
            have = len(self.partial.get(csid, b""))
            data = self._take(min(self.in_chunk, prev[1] - have))
            # The whole chunk is in: commit.
            self._commit()
            self.prev[csid] = prev
            part = self.partial.setdefault(csid, bytearray())
            part += data
            if len(part) < prev[1]:
                continue
            del self.partial[csid]
            msg = (prev[2], prev[3], prev[0], bytes(part))
            if msg[0] == MSG_SET_CHUNK_SIZE:
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
            try:
                msg = self.read_message()
            except socket.timeout:
                break
            if predicate(msg):
                return msg
            self.messages.append(msg)
        raise TimeoutError("no matching message")

    def next_message(self, timeout=10):
        """The next message in arrival order (kept ones first)."""
        if self.messages:
            return self.messages.pop(0)
        self.sock.settimeout(timeout)
        return self.read_message()

    def wait_status(self, timeout=10):
        msg = self.wait_for(lambda m: m[0] == MSG_COMMAND_AMF0 and amf_decode_all(m[3])[0] in ("onStatus", "_error"),
                            timeout)
        values = amf_decode_all(msg[3])
        return values[3] if len(values) > 3 else values

    def wait_status_code(self, code, timeout=10):
        """Reads statuses until one with this code; returns it (others are dropped)."""
        deadline = time.time() + timeout
        while True:
            status = self.wait_status(max(0.01, deadline - time.time()))
            if isinstance(status, dict) and status.get("code") == code:
                return status

    def wait_result(self, txn, timeout=10):
        def match(m):
            if m[0] != MSG_COMMAND_AMF0:
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

    def play_start(self, name):
        """play; returns (stream id, first status, Play.Start status or the failure status)."""
        sid = self.create_stream()
        self.command("play", None, name, -2, stream_id=sid, txn=0)
        first = self.wait_status()
        if first.get("code") != "NetStream.Play.Reset":
            return sid, first, first
        return sid, first, self.wait_status()

    # -- publishing media --
    def send_video(self, stream_id, payload, timestamp):
        self.send_message(6, MSG_VIDEO, stream_id, payload, timestamp)

    def send_audio(self, stream_id, payload, timestamp):
        self.send_message(4, MSG_AUDIO, stream_id, payload, timestamp)

    def send_metadata(self, stream_id, metadata):
        payload = amf_encode("@setDataFrame") + amf_encode("onMetaData") + b"\x08" + struct.pack(">I", len(metadata)) \
            + amf_encode(metadata)[1:]
        self.send_message(5, MSG_DATA_AMF0, stream_id, payload)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RemoteSharedObject:
    """What Flash's SharedObject.getRemote(name, uri, persistent) + connect(nc) does, on one
    RtmpClient: the slots as the server last said, the version, and the onSync lists (one list
    per message: {"code": "change"|"success"|"reject"|"delete"|"clear", "name": slot}), the
    messages sent to it (handler, args) and status events (code, level)."""

    def __init__(self, client, name, persistent=False, amf3=False):
        self.client, self.name, self.persistent, self.amf3 = client, name, persistent, amf3
        self.data = {}
        self.version = 0
        self.connected = False
        self.pending = set()  # slots changed here and not yet confirmed
        self.syncs = []
        self.calls = []
        self.statuses = []

    def _send(self, events):
        kind = MSG_SHARED_OBJECT_AMF3 if self.amf3 else MSG_SHARED_OBJECT_AMF0
        self.client.send_message(3, kind, 0, so_encode(self.name, events, self.version, self.persistent, self.amf3))

    def connect(self):
        self._send([(SO_USE, b"")])

    def close(self):
        self._send([(SO_RELEASE, b"")])

    def set_property(self, slot, value):
        self.data[slot] = value
        self.pending.add(slot)
        self._send([(SO_REQUEST_CHANGE, so_string(slot) + amf_encode(value))])

    def delete(self, slot):
        self.data.pop(slot, None)
        self._send([(SO_REQUEST_REMOVE, so_string(slot))])

    def send(self, handler, *args):
        self._send([(SO_SEND_MESSAGE, amf_encode(handler) + b"".join(amf_encode(a) for a in args))])

    def _is_mine(self, msg):
        if msg[0] not in (MSG_SHARED_OBJECT_AMF0, MSG_SHARED_OBJECT_AMF3):
            return False
        name, _, persistent, _ = so_decode(msg[3], msg[0] == MSG_SHARED_OBJECT_AMF3)
        return name == self.name and persistent == self.persistent

    def _apply(self, msg):
        is_amf3 = msg[0] == MSG_SHARED_OBJECT_AMF3
        assert is_amf3 == self.amf3, f"reply of type {msg[0]} to a client using {'16' if self.amf3 else '19'}"
        _, version, _, events = so_decode(msg[3], is_amf3)
        self.version = version
        sync = []
        for kind, fields in events:
            if kind == SO_USE_SUCCESS:
                self.connected = True
            elif kind == SO_CLEAR:
                self.data.clear()
                sync.append({"code": "clear"})
            elif kind == SO_CHANGE:
                slot, value = fields
                self.data[slot] = value
                code = "reject" if slot in self.pending else "change"
                self.pending.discard(slot)
                sync.append({"code": code, "name": slot})
            elif kind == SO_SUCCESS:
                self.pending.discard(fields[0])
                sync.append({"code": "success", "name": fields[0]})
            elif kind == SO_REMOVE:
                self.data.pop(fields[0], None)
                code = "reject" if fields[0] in self.pending else "delete"
                self.pending.discard(fields[0])
                sync.append({"code": code, "name": fields[0]})
            elif kind == SO_SEND_MESSAGE:
                self.calls.append(fields)
            elif kind == SO_STATUS:
                self.statuses.append(fields)
        if sync:
            self.syncs.append(sync)

    def wait(self, predicate, timeout=10):
        """Applies this object's messages until predicate(self) holds."""
        deadline = time.time() + timeout
        while not predicate(self):
            left = deadline - time.time()
            try:
                if left <= 0:
                    raise TimeoutError("time is up")
                self._apply(self.client.wait_for(self._is_mine, left))
            except TimeoutError:
                raise TimeoutError(f"shared object {self.name}: condition not met within {timeout} s; "
                                   f"data={self.data} onSync={self.sync_codes()[-8:]} calls={self.calls[-5:]} "
                                   f"statuses={self.statuses}") from None
        return self

    def sync_codes(self):
        """Every onSync entry so far as "code:name"."""
        return [f"{e['code']}:{e.get('name', '')}" for sync in self.syncs for e in sync]


class PlayerRecorder:
    """Plays app/name with an RtmpClient in a thread and records what arrives:
    media: [(wall time, type, timestamp, payload or len)], statuses: [(wall time, code)].
    stop() ends it; `error` holds why the reading ended early (e.g. the server closed it)."""

    def __init__(self, port, app_name, keep_payloads=False, rcvbuf=None, read=True):
        self.app, self.name = app_name.split("/", 1)
        self.port = port
        self.keep_payloads = keep_payloads
        self.media = []
        self.statuses = []
        self.error = None
        self.play_sent_at = None
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.client = RtmpClient("127.0.0.1", port, rcvbuf=rcvbuf)
        self.read = read
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        if not self.started.wait(15):
            raise AssertionError(f"player of {self.app}/{self.name} did not start: {self.error}")
        if self.error:
            raise AssertionError(f"player of {self.app}/{self.name} failed: {self.error}")
        return self

    def _record(self, msg):
        now = time.time()
        if msg[0] == MSG_COMMAND_AMF0:
            values = amf_decode_all(msg[3])
            if values and values[0] == "onStatus" and len(values) > 3 and isinstance(values[3], dict):
                self.statuses.append((now, values[3].get("code")))
        elif msg[0] in (MSG_AUDIO, MSG_VIDEO, MSG_DATA_AMF0):
            self.media.append((now, msg[0], msg[2], msg[3] if self.keep_payloads else len(msg[3]),
                               msg[3][:2]))

    def _run(self):
        c = self.client
        try:
            c.connect(self.app)
            sid = c.create_stream()
            self.play_sent_at = time.time()
            c.command("play", None, self.name, -2, stream_id=sid, txn=0)
            if not self.read:
                self.started.set()
                return
            while not self.stopping.is_set():
                try:
                    msg = c.next_message(timeout=0.2)
                except socket.timeout:
                    if not self.started.is_set() and self.statuses:
                        self.started.set()
                    continue
                self._record(msg)
                if self.statuses and not self.started.is_set():
                    self.started.set()
        except BaseException as e:  # noqa: BLE001 - reported through self.error
            self.error = e
        finally:
            self.started.set()

    def codes(self):
        return [code for _, code in self.statuses]

    def video(self):
        return [m for m in self.media if m[1] == MSG_VIDEO]

    def audio(self):
        return [m for m in self.media if m[1] == MSG_AUDIO]

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        self.client.close()
        return self
