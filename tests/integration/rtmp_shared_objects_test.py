#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Remote shared objects over RTMP, with our Python client doing what a Flash client's
SharedObject.getRemote() + connect() does: two clients on different poll groups see each other's
changes, deletes and sends; a persistent object survives a server restart; a change past the
limits is rejected; a malformed shared object message closes that connection only.

Cases: --case two_clients, --case amf3_client, --case persistent_restart, --case limit_rejects,
--case malformed_closes_one."""
import os
import re
import socket
import struct
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_cases, Weir  # noqa: E402
from rtmp_client import (MSG_SHARED_OBJECT_AMF0, RemoteSharedObject, RtmpClient, SO_REQUEST_CHANGE,  # noqa: E402
                         so_encode, so_string)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def group_of_connections(log):
    """conn id -> poll group, from the kernel's per-group 'closed' lines (debug level)."""
    return {int(m.group(2)): int(m.group(1))
            for m in re.finditer(r"kernel\.group(\d+): conn=(\d+) peer=\S+ listener=rtmp closed", log)}


def connect(w, app="chat"):
    c = RtmpClient("127.0.0.1", w.rtmp_port)
    c.connect(app)
    return c


def two_users(w, name, persistent=False, amf3=(False, False)):
    """Two connections (the kernel spreads them over both groups), each using `name`."""
    a, b = connect(w), connect(w)
    so_a = RemoteSharedObject(a, name, persistent, amf3[0])
    so_b = RemoteSharedObject(b, name, persistent, amf3[1])
    for so in (so_a, so_b):
        so.connect()
        so.wait(lambda s: s.connected)
    return a, b, so_a, so_b


def exchange(so_a, so_b):
    """The shared-object round: each side sees the other's changes, its own as success."""
    so_a.set_property("x", 1)
    so_a.wait(lambda s: "success:x" in s.sync_codes())
    so_b.wait(lambda s: s.data.get("x") == 1)
    check("change:x" in so_b.sync_codes(), f"b's onSync: {so_b.sync_codes()}")

    so_b.set_property("who", {"name": "bob", "tags": ["a", "b"], "score": 7})
    so_b.wait(lambda s: "success:who" in s.sync_codes())
    so_a.wait(lambda s: "who" in s.data)
    check(so_a.data["who"] == {"name": "bob", "tags": ["a", "b"], "score": 7}, f"a has {so_a.data}")

    so_b.delete("x")
    so_a.wait(lambda s: "delete:x" in s.sync_codes())
    check("x" not in so_a.data, f"a still has x: {so_a.data}")

    so_a.send("say", "hello", 42)
    for so in (so_a, so_b):  # a send reaches every subscriber, the sender included
        so.wait(lambda s: ("say", ["hello", 42.0]) in s.calls)
    so_b.wait(lambda s: s.version >= 3)
    so_a.wait(lambda s: s.version == so_b.version)


def case_two_clients(_):
    with Weir(threads=2, log={"level": "debug"}) as w:
        a, b, so_a, so_b = two_users(w, "room1")
        exchange(so_a, so_b)
        # A third client joining late gets the state in its first onSync: clear, then each slot.
        c = connect(w)
        so_c = RemoteSharedObject(c, "room1")
        so_c.connect()
        so_c.wait(lambda s: s.connected and "who" in s.data)
        check(so_c.syncs[0][0] == {"code": "clear"}, f"first onSync: {so_c.syncs[0]}")
        check(so_c.version == so_a.version, f"versions {so_c.version} vs {so_a.version}")
        so_c.close()
        for client in (a, b, c):
            client.close()
        w.stop()
        log = w.log()
        groups = group_of_connections(log)
        conns = [int(x) for x in re.findall(r"conn=(\d+) peer=\S+ connect app=chat", log)]
        check(len({groups.get(x) for x in conns[:2]}) == 2, f"the two clients were not on two groups: {groups}")


def case_amf3_client(_):
    """One client speaks type 16 (AMF3 encoding), the other type 19: each is answered in its own."""
    with Weir(threads=2) as w:
        a, b, so_a, so_b = two_users(w, "mixed", amf3=(True, False))
        exchange(so_a, so_b)
        a.close()
        b.close()


def case_persistent_restart(_):
    store = tempfile.mkdtemp(prefix="weir-so-store-")
    try:
        with Weir(threads=2, shared_objects={"directory": store}) as w:
            a, b, so_a, so_b = two_users(w, "scores", persistent=True)
            so_a.set_property("alice", 10)
            so_b.set_property("bob", {"best": 7})
            so_a.set_property("carol", "x")
            so_a.delete("carol")
            so_a.wait(lambda s: s.data.get("bob") == {"best": 7} and "delete:carol" in s.sync_codes())
            version = so_a.version
            # A temporary object of the same name is a different object, not stored.
            t = RemoteSharedObject(a, "scores")
            t.connect()
            t.set_property("temp", 1)
            t.wait(lambda s: "success:temp" in s.sync_codes())
            a.close()
            b.close()
        files = [os.path.join(d, f) for d, _, fs in os.walk(store) for f in fs]
        check([os.path.basename(f) for f in files] == ["scores.wso"], f"stored files: {files}")
        with Weir(threads=2, shared_objects={"directory": store}) as w:
            c = connect(w)
            so_c = RemoteSharedObject(c, "scores", persistent=True)
            so_c.connect()
            so_c.wait(lambda s: s.connected)
            check(so_c.data == {"alice": 10, "bob": {"best": 7}}, f"after the restart: {so_c.data}")
            check(so_c.version == version, f"version {so_c.version}, was {version}")
            t = RemoteSharedObject(c, "scores")
            t.connect()
            t.wait(lambda s: s.connected)
            check(t.data == {}, f"the temporary object survived: {t.data}")
            c.close()
    finally:
        shutil.rmtree(store, ignore_errors=True)


def case_limit_rejects(_):
    with Weir(threads=2, shared_objects={"max_slots": 2, "max_object_bytes": "2k"}) as w:
        a, b, so_a, so_b = two_users(w, "small")
        so_a.set_property("one", 1)
        so_a.set_property("two", 2)
        so_a.set_property("three", 3)
        so_a.wait(lambda s: "reject:three" in s.sync_codes())
        check("three" not in so_a.data, f"a kept a rejected slot: {so_a.data}")
        so_a.set_property("one", "y" * 4000)
        so_a.wait(lambda s: "reject:one" in s.sync_codes())
        check(so_a.data["one"] == 1, f"a's 'one' after the reject: {so_a.data}")
        so_b.wait(lambda s: s.data == {"one": 1, "two": 2})
        w.wait_log(r"shared object chat/small: change of 'three' refused: .*max_slots")
        a.close()
        b.close()


def case_malformed_closes_one(_):
    with Weir(threads=2) as w:
        a, b, so_a, so_b = two_users(w, "room")
        bad = connect(w)
        # A request change whose event claims more bytes than the message holds.
        payload = so_encode("room", []) + bytes([SO_REQUEST_CHANGE]) + struct.pack(">I", 1000) + so_string("x")
        bad.send_message(3, MSG_SHARED_OBJECT_AMF0, 0, payload)
        closed = False
        try:
            bad.wait_for(lambda m: False, timeout=10)
        except (ConnectionError, socket.error):
            closed = True
        except TimeoutError:
            pass
        check(closed, "the connection that sent a malformed shared object message is still open")
        w.wait_log(r"closed: .*shared object 'room': request change event at offset \d+ declares 1000 bytes")
        exchange(so_a, so_b)  # the others go on
        a.close()
        b.close()


CASES = {
    "two_clients": case_two_clients,
    "amf3_client": case_amf3_client,
    "persistent_restart": case_persistent_restart,
    "limit_rejects": case_limit_rejects,
    "malformed_closes_one": case_malformed_closes_one,
}

if __name__ == "__main__":
    run_cases(CASES)
