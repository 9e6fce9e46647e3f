#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Captures what real RTSP peers put on the wire, for the tests of formats/rtsp. Run once by hand
# (generate.sh); the tests read the committed files and need neither ffmpeg nor GStreamer.
#
#   capture.py record OUT [--digest|--basic] -- CMD...
#       A fake RECORD server on a free port: answers OPTIONS, ANNOUNCE, SETUP, RECORD with 200 (or
#       first with 401 and a Digest/Basic challenge), and writes the client's bytes to OUT: its
#       requests, the SDP it announces and the start of its interleaved RTP/RTCP. CMD gets the
#       port as {port}.
#   capture.py proxy OUT_C2S OUT_S2C UPSTREAM_PORT -- CMD...
#       A recording proxy in front of a real server: the client's bytes to OUT_C2S, the server's
#       (responses, SDP, interleaved frames) to OUT_S2C, each cut after LIMIT bytes.
import socket
import subprocess
import sys
import threading

LIMIT = 12000          # bytes kept of a direction: enough for a few interleaved frames
NONCE = "5f2ab1e0c0ffee0123456789abcdef01"
REALM = "weir-capture"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_request(conn, buf):
    """Returns (head, body, rest) of the next request in buf+socket, or None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    return head, rest[:length], rest[length:]


def header(head, wanted):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip().decode()
    return None


def serve_record(listener, out_path, challenge):
    conn, _ = listener.accept()
    log = bytearray()
    buf = b""
    authorized = challenge is None
    recording = False
    while True:
        if recording:
            data = conn.recv(65536)
            if not data:
                break
            log += data
            if len(log) > LIMIT:
                break
            continue
        got = read_request(conn, buf)
        if got is None:
            break
        head, body, buf = got
        log += head + b"\r\n\r\n" + body
        cseq = header(head, b"cseq") or "0"
        method = head.split(b" ", 1)[0]
        if not authorized:
            if header(head, b"authorization") is None:
                if challenge == "digest":
                    value = f'Digest realm="{REALM}", nonce="{NONCE}", algorithm=MD5'
                else:
                    value = f'Basic realm="{REALM}"'
                conn.sendall(f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                             f"WWW-Authenticate: {value}\r\n\r\n".encode())
                continue
            authorized = True
        extra = ""
        if method == b"OPTIONS":
            extra = "Public: OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN\r\n"
        elif method == b"SETUP":
            transport = header(head, b"transport")
            if "client_port" in transport and "server_port" not in transport:
                transport += ";server_port=50000-50001"
            extra = f"Transport: {transport}\r\nSession: 12345678;timeout=60\r\n"
        elif method in (b"RECORD", b"TEARDOWN"):
            extra = "Session: 12345678\r\n"
        conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}\r\n".encode())
        if method == b"RECORD":
            log += buf
            recording = True
    conn.close()
    with open(out_path, "wb") as f:
        f.write(bytes(log[:LIMIT]))


def pump(src, dst, log):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if len(log) < LIMIT:
                log += data[:LIMIT - len(log)]
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve_proxy(listener, c2s_path, s2c_path, upstream):
    conn, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", upstream))
    c2s, s2c = bytearray(), bytearray()
    threads = [threading.Thread(target=pump, args=(conn, up, c2s)),
               threading.Thread(target=pump, args=(up, conn, s2c))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(c2s_path, "wb") as f:
        f.write(bytes(c2s))
    with open(s2c_path, "wb") as f:
        f.write(bytes(s2c))


def main():
    args = sys.argv[1:]
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    if options[0] == "record":
        challenge = "digest" if "--digest" in options else "basic" if "--basic" in options else None
        server = threading.Thread(target=serve_record, args=(listener, options[1], challenge))
    else:
        server = threading.Thread(target=serve_proxy,
                                  args=(listener, options[1], options[2], int(options[3])))
    server.start()
    client = subprocess.Popen([c.replace("{port}", str(port)) for c in command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.join(timeout=30)
    client.kill()
    client.wait()


if __name__ == "__main__":
    main()
