# SPDX-License-Identifier: Apache-2.0
"""The kernel's listeners against a real weir: what accepting does when the process runs out of
file descriptors (a low RLIMIT_NOFILE set on the running server)."""
import os
import re
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import WEIR, run_cases, skip  # noqa: E402
from rtmp_client import RtmpClient  # noqa: E402
from stats_test import get, poll, stats_server  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of the whole process so far (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields from 3 on: the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def skip_under_ubsan():
    """UBSan's vptr check (GCC 12's libsanitizer) probes memory through a pipe(2), which fails at
    the descriptor limit: the first virtual call of a type it has not cached is then reported as
    "invalid vptr" and, with -fno-sanitize-recover, ends the server. Its suppressions do not apply
    to unrecoverable reports, so a UBSan build cannot run out of descriptors; ASan alone can."""
    r = subprocess.run(["ldd", WEIR], capture_output=True, text=True, timeout=30)
    if "libubsan" in r.stdout:
        skip("UBSan's vptr check needs free descriptors (pipe(2)); this test runs out of them")


def case_out_of_descriptors(_):
    skip_under_ubsan()
    # A long handshake timeout: the connections that got in must hold their descriptors meanwhile.
    with stats_server(threads=2, rtmp={"handshake_timeout": "120s"}, stats={"sample_interval": "250ms"}) as w:
        poll(w, "/api/v1/server", lambda s: True, what="the first sample")
        pid = w.proc.pid
        # Room for a few connections more than the server holds now, then none.
        limit = len(os.listdir(f"/proc/{pid}/fd")) + 4
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        # connect() completes in the listen backlog whether or not weir can accept.
        clients = [socket.create_connection(("127.0.0.1", w.rtmp_port), timeout=10) for _ in range(16)]
        w.wait_log(r"listener rtmp: accept: Too many open files")

        # The socket stays readable while the backlog is full: a listener that waits for
        # readability again spins a core. Bound how much CPU the idle server burns meanwhile (a
        # bound on spinning, not a speed: an idle server uses next to none).
        before = cpu_seconds(pid)
        time.sleep(2)
        used = cpu_seconds(pid) - before
        print(f"CPU while out of descriptors: {used:.2f} s in 2 s", flush=True)
        assert used < 0.5, f"weir used {used:.2f} s of CPU in 2 s while out of descriptors: the listener spins"

        # Descriptors come free: new clients are served again, RTMP and HTTP.
        for c in clients:
            c.close()
        rtmp = RtmpClient("127.0.0.1", w.rtmp_port)
        rtmp.handshake()
        rtmp.close()
        m = w.wait_log(r"listener rtmp: accepting again after [\d.]+ s of Too many open files \(EMFILE\); "
                       r"(\d+) connections waited in the backlog meanwhile")
        assert int(m.group(1)) >= 12, m.group(0)  # at most 4 got in before the limit
        pauses = re.findall(r"listener rtmp: accept: .*", w.log())
        assert len(pauses) == 1, f"one pause, logged once; the log has {len(pauses)} lines:\n" + "\n".join(pauses[:10])
        assert "accept: Too many open files (EMFILE); not accepting until it clears" in pauses[0], pauses[0]
        # Other parts that open files meanwhile (mod_stats reads /proc) name the cause too.
        for line in re.findall(r"process figures unavailable: .*", w.log()):
            assert "cannot open /proc/self/stat" in line and "Too many open files" in line, line

        server = poll(w, "/api/v1/server",
                      lambda s: s["connections"]["by_listener"]["rtmp"].get("accept_pauses", 0) >= 1,
                      what="the pause counted in /api/v1/server")
        assert server["connections"]["by_listener"]["rtmp"]["accept_pauses"] == 1, server["connections"]
        assert server["connections"]["by_listener"]["http"]["accept_pauses"] == 0, server["connections"]
        metrics = get(w, "/metrics")
        assert 'weir_accept_pauses_total{listener="rtmp"} 1\n' in metrics, \
            "\n".join(line for line in metrics.splitlines() if "accept" in line)


if __name__ == "__main__":
    run_cases({"out_of_descriptors": case_out_of_descriptors})
