"""Shared pieces of the end-to-end scripts (tests/scripts/*.py).

The scripts run the built programs ($DGRAM_BUILD/tools/dgram, examples) under
$DGRAM_WRAP (valgrind, when the suite is), talk to them over loopback and
synchronise on their output lines and on datagrams, never on sleeps. Every wait
is bounded by DEADLINE; every process started here is killed by pid on the way
out (and dies with this script even if it is SIGKILLed, through
PR_SET_PDEATHSIG).

This directory has no test of its own: CMake registers only tests/scripts/*.py.
"""
import atexit
import ctypes
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time

BUILD = os.environ.get("DGRAM_BUILD", "")
SOURCE = os.environ.get("DGRAM_SOURCE", "")
WRAP = shlex.split(os.environ.get("DGRAM_WRAP", ""))
PYTHON = "/usr/bin/python3"  # Debian's, with python3-twisted 22.4
# Seconds any one wait may take. Generous: valgrind makes start-up slow.
DEADLINE = 30.0 if WRAP else 20.0

_procs = []


class Failure(Exception):
    pass


def check(cond, what, *details):
    if not cond:
        raise Failure(what + "".join("\n  " + str(d) for d in details))


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(77)


def program(*parts):
    path = os.path.join(BUILD, *parts)
    if not BUILD or not os.access(path, os.X_OK):
        skip("%s is not built (DGRAM_BUILD=%r)" % (os.path.join(*parts), BUILD))
    return path


def dgram(*args):
    """argv of the dgram tool, under DGRAM_WRAP."""
    return WRAP + [program("tools", "dgram")] + [str(a) for a in args]


def dgram_bare(*args):
    """argv of the dgram tool without DGRAM_WRAP: for the many quick runs of
    pure code (the command line) that a wrapped sample already covers."""
    return [program("tools", "dgram")] + [str(a) for a in args]


def example(name, *args):
    return WRAP + [program("examples", name)] + [str(a) for a in args]


def _die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """A program with its stdout and stderr read line by line, with deadlines."""

    def __init__(self, argv, name=None, stdin=subprocess.DEVNULL):
        wrapped = WRAP and argv[:len(WRAP)] == WRAP
        self.name = name or os.path.basename(argv[len(WRAP)] if wrapped else argv[0])
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        _procs.append(self)
        self.pid = self.p.pid
        self.out, self.err = [], []          # complete lines, decoded
        self._partial = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}
        self._lines = {self.p.stdout.fileno(): self.out, self.p.stderr.fileno(): self.err}
        self._open = set(self._partial)
        self.rc = None
        self._cursor = {"out": 0, "err": 0}  # lines wait_line() has gone past

    def _pump(self, timeout):
        """Read what is there (waiting up to timeout). False once both pipes closed."""
        if not self._open:
            return False
        ready, _, _ = select.select(list(self._open), [], [], max(timeout, 0))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                self._open.discard(fd)
                if self._partial[fd]:
                    self._lines[fd].append(self._partial[fd].decode("utf-8", "replace"))
                    self._partial[fd] = b""
                continue
            data = self._partial[fd] + chunk
            *whole, self._partial[fd] = data.split(b"\n")
            self._lines[fd].extend(w.decode("utf-8", "replace") for w in whole)
        return True

    def describe(self):
        return "%s (pid %d, rc %s)\n  stdout: %r\n  stderr: %r" % (
            " ".join(self.argv), self.pid, self.rc, self.out, self.err)

    def wait_line(self, stream, pattern, deadline=DEADLINE):
        """The next line of stream ('out' or 'err') matching pattern (a regex,
        whole line), after those earlier calls matched, waiting for it;
        returns the match."""
        lines = self.out if stream == "out" else self.err
        rx = re.compile(pattern)
        end = time.monotonic() + deadline
        while True:
            for i in range(self._cursor[stream], len(lines)):
                m = rx.fullmatch(lines[i])
                if m:
                    self._cursor[stream] = i + 1
                    return m
            left = end - time.monotonic()
            if left <= 0 or not self._pump(left):
                break
        raise Failure("%s: no line matching %r on std%s within %g s\n  %s" % (
            self.name, pattern, stream, deadline, self.describe()))

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def finish(self, deadline=DEADLINE):
        """Wait for the exit, reading everything; returns the exit status."""
        end = time.monotonic() + deadline
        while self._pump(end - time.monotonic()) and time.monotonic() < end:
            pass
        try:
            self.rc = self.p.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise Failure("%s did not exit within %g s\n  %s" % (self.name, deadline, self.describe()))
        self._pump(0)
        return self.rc

    def kill(self):
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.p.wait()


def run(argv, deadline=DEADLINE):
    """Run to completion: (rc, stdout lines, stderr lines)."""
    p = Proc(argv)
    rc = p.finish(deadline)
    return rc, p.out, p.err


def cleanup():
    for p in _procs:
        try:
            p.kill()
        except (OSError, subprocess.SubprocessError):
            pass


def _on_signal(sig, frame):
    cleanup()
    os._exit(128 + sig)


def main(test):
    """Run test(), cleaning up whatever it started; exit 0, 1 or 77."""
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        test()
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
        cleanup()
        sys.exit(1)
    cleanup()
    print("PASS", flush=True)
    sys.exit(0)


# ---- sockets ---------------------------------------------------------------

def udp(host="127.0.0.1", port=0):
    """A UDP socket bound to host:port, with recv bounded by DEADLINE."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(DEADLINE)
    return s


def dead_port(host="127.0.0.1"):
    """A port nobody listens on (bound, then released)."""
    s = udp(host)
    port = s.getsockname()[1]
    s.close()
    return port


def recv(s, what):
    try:
        data, addr = s.recvfrom(65536)
    except socket.timeout:
        raise Failure("no datagram within %g s: %s" % (DEADLINE, what))
    return data, addr[:2]


def server_port(proc, proto="Echo"):
    """The port a dgram server bound, from its --verbose log line."""
    return int(proc.wait_line("err", r"%s starting on (\d+)" % proto).group(1))


def stop(proc, sig=signal.SIGINT):
    """Stop a server with a signal; it must exit 0."""
    proc.signal(sig)
    rc = proc.finish()
    check(rc == 0, "%s exit status %s after signal %d, not 0" % (proc.name, rc, sig), proc.describe())


def netns_available():
    """True if `unshare -rn` can make a private network namespace here."""
    try:
        r = subprocess.run(["unshare", "-rn", "true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=DEADLINE)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def lo_up():
    """Inside a fresh network namespace: bring loopback up."""
    r = subprocess.run(["ip", "link", "set", "lo", "up"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=DEADLINE)
    check(r.returncode == 0, "ip link set lo up failed", r.stderr)


# ---- network namespaces made by a test -------------------------------------

def ns_members(ns, group):
    """How many sockets in namespace ns have joined group, per the kernel
    (/proc/net/igmp or igmp6 read inside it)."""
    import ipaddress
    g = ipaddress.ip_address(group)
    path = "/proc/net/igmp6" if g.version == 6 else "/proc/net/igmp"
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", path], capture_output=True, text=True,
                         timeout=DEADLINE).stdout
    rows = [l.split() for l in out.splitlines()]
    if g.version == 6:
        return sum(int(f[3]) for f in rows if len(f) > 3 and f[2] == g.packed.hex())
    # IPv4: the group is printed as the host-order hex of the network-order word.
    want = {g.packed.hex().upper(), g.packed[::-1].hex().upper()}
    return sum(int(f[1]) for f in rows if len(f) > 1 and f[0] in want and f[1].isdigit())


def ns_wait_members(ns, group, n):
    """Wait until n sockets in ns have joined group: the kernel's own list says
    when a server is ready to hear the group, so nothing waits on a guess."""
    end = time.monotonic() + DEADLINE
    while ns_members(ns, group) < n:
        check(time.monotonic() < end, "%d members of %s in %s never appeared" % (n, group, ns))
        time.sleep(0.01)
