#!/usr/bin/python3
"""The restart proof of issue 7: under a steady load of at least 50k
datagrams/s on loopback, dgram serve is upgraded (SIGUSR2) 10 times in a row,
each new process taking over the sockets of the one before. Every datagram
the load generator (tests/serve_load.c) sent must come back echoed, or be
counted as dropped by the kernel (the server socket's drops, read with ss,
and the generator's own); and the dropped count must be 0. No datagram may
be read and then discarded by a stopping process either (its log's stats).

Under valgrind (DGRAM_WRAP set) the load part cannot reach the rate: a
reduced form runs instead (2 upgrades at 5000/s), checking the same totals
but not the rate.
"""
import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, WRAP, Failure, Proc, check, dgram, main, program

RATE = 5000 if WRAP else 60000
MIN_RATE = 0 if WRAP else 50000
UPGRADES = 2 if WRAP else 10
_pids = set()


def reap(pid, what, proc=None):
    """Wait (bounded) for pid, a descendant, to exit; we are its subreaper."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], DEADLINE)
        check(ready, "%s (pid %d) did not exit within %g s" % (what, pid, DEADLINE))
    finally:
        os.close(fd)
    _pids.discard(pid)
    if proc is not None and proc.pid == pid:
        status = proc.p.wait()  # Popen's own child
    else:
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    check(status == 0, "%s (pid %d) exit status %d, not 0" % (what, pid, status))


def kill_leftovers():
    for pid in list(_pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def server_drops(port):
    out = subprocess.run(["ss", "-uanm", "sport = :%d" % port], capture_output=True, text=True,
                         timeout=DEADLINE).stdout
    m = re.search(r"\bd(\d+)\)", out)
    check(m, "no socket on port %d in ss's output" % port, out)
    return int(m.group(1))


def test():
    load = program("tests", "serve_load")
    if WRAP:
        print("valgrind: reduced form, %d upgrades at %d/s, no rate check (valgrind cannot "
              "serve 50k datagrams/s)" % (UPGRADES, RATE), flush=True)
    # Old processes' children (the upgrades) become ours when their parent
    # exits, so each can be waited for.
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    import atexit
    atexit.register(kill_leftovers)

    tmp = tempfile.mkdtemp(prefix="dgram-serve-")
    cfg = os.path.join(tmp, "serve.ini")
    pidfile = os.path.join(tmp, "serve.pid")
    with open(cfg, "w") as f:
        f.write("[serve]\ndrain = 2\npidfile = %s\n[service echo]\nprotocol = echo\nport = 0\n"
                "interface = 127.0.0.1\nreceive-buffer = 8388608\n" % pidfile)
    server = Proc(dgram("serve", cfg), name="dgram serve")
    _pids.add(server.pid)
    m = server.wait_line("err", r"dgram serve\[(\d+)\]: Echo starting on (\d+)")
    port = int(m.group(2))
    current = int(m.group(1))
    server.wait_line("err", r"dgram serve\[%d\]: ready: .*" % current)

    gen = Proc([load, "127.0.0.1", str(port), str(RATE), "120"], name="serve_load")
    gen.wait_line("out", "load: running")
    discarded = 0
    for i in range(UPGRADES):
        os.kill(current, signal.SIGUSR2)
        m = server.wait_line("err", r"dgram serve\[%d\]: upgrade: pid (\d+) is serving; .*" % current)
        new = int(m.group(1))
        _pids.add(new)
        m = server.wait_line("err", r"dgram serve\[%d\]: service echo: received (\d+), discarded (\d+), "
                             r"kernel drops (\d+), send errors (\d+)" % current)
        discarded += int(m.group(2))
        server.wait_line("err", r"dgram serve\[%d\]: stopped \(handed over\)" % current)
        reap(current, "the old dgram serve", server)
        # Let the new process serve under the load for a while (up to half a
        # second: the generator's next progress line) before the next.
        gen._pump(0)
        gen._cursor["out"] = len(gen.out)
        gen.wait_line("out", r"load: answered \d+")
        print("upgrade %d: pid %d -> %d (the old one had answered %s)" % (i + 1, current, new,
                                                                         m.group(1)), flush=True)
        current = new

    gen.signal(signal.SIGINT)
    check(gen.finish() == 0, "serve_load failed", gen.describe())
    m = re.fullmatch(r"load: sent (\d+) answered (\d+) duplicates (\d+) rate (\d+)/s client_drops (\d+)",
                     gen.out[-1])
    check(m, "no totals from serve_load", gen.describe())
    sent, answered, dups, rate, client_drops = (int(g) for g in m.groups())
    drops = server_drops(port)
    with open(pidfile) as f:
        check(f.read() == "%d\n" % current, "the pidfile does not hold the last pid %d" % current)
    os.kill(current, signal.SIGTERM)
    server.wait_line("err", r"dgram serve\[%d\]: stopped" % current)
    reap(current, "the last dgram serve", server)
    print("totals: %d upgrades, sent %d, answered %d, dropped by the kernel %d (server socket) + %d "
          "(client socket), read and discarded %d, duplicates %d, rate %d datagrams/s"
          % (UPGRADES, sent, answered, drops, client_drops, discarded, dups, rate), flush=True)
    check(sent > 0 and sent == answered + drops + client_drops,
          "datagrams unaccounted for: sent %d, answered %d, kernel drops %d + %d"
          % (sent, answered, drops, client_drops))
    check(drops + client_drops == 0, "the kernel dropped %d datagrams" % (drops + client_drops))
    check(discarded == 0, "%d datagrams were read and then discarded by a stopping process" % discarded)
    check(dups == 0, "%d duplicate or foreign replies" % dups)
    if rate < MIN_RATE:  # timing is reported, never asserted: a loaded machine is not a defect
        print("NOTE: the load reached %d datagrams/s, below the %d the proof aims at" % (rate, MIN_RATE),
              flush=True)
    check(not os.path.exists(pidfile), "the last process left its pidfile")
    os.unlink(cfg)
    os.rmdir(tmp)


if __name__ == "__main__":
    main(test)
