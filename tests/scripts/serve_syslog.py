#!/usr/bin/python3
"""dgram serve logs to syslog when asked (`log = syslog` and `--syslog`).

The server runs in a private mount namespace where /dev is a fresh tmpfs and
/dev/log is this test's own datagram socket, bind-mounted in: the messages
land here and nowhere else. Checked: the ident and facility (daemon), the
start line of each service, and the stop line after SIGTERM.
"""
import os
import socket
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, WRAP, Proc, check, dgram, main, skip

LOG_DAEMON = 3 << 3


def messages(sock, want, seen):
    """Read syslog datagrams until one contains want; returns it."""
    while True:
        try:
            data = sock.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            raise AssertionError("no syslog message containing %r within %g s; saw %r"
                                 % (want, DEADLINE, seen))
        seen.append(data)
        if want in data:
            return data


def test():
    if os.geteuid() != 0:
        skip("not root: cannot make a mount namespace for /dev/log")
    if WRAP:
        skip("valgrind needs the real /dev, which this test replaces")
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        skip("unshare --mount is not allowed here")
    tmp = tempfile.mkdtemp(prefix="dgram-syslog-")
    path = os.path.join(tmp, "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(DEADLINE)
    # READY=1 on NOTIFY_SOCKET says the signal handlers are in place.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0dgram-syslog-%d" % os.getpid())
    notify.settimeout(DEADLINE)
    os.environ["NOTIFY_SOCKET"] = "@dgram-syslog-%d" % os.getpid()
    cfg = os.path.join(tmp, "serve.ini")
    with open(cfg, "w") as f:
        f.write("[serve]\nlog = syslog\n[service echo]\nprotocol = echo\nport = 0\n"
                "interface = 127.0.0.1\n")
    for argv in (dgram("serve", cfg), dgram("serve", "--syslog", cfg)):
        wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs none /dev && touch /dev/log && mount --bind "$0" /dev/log '
                   '&& exec "$@"', path] + argv
        server = Proc(wrapper, name="dgram serve")
        seen = []
        try:
            start = messages(sock, "Echo starting on", seen)
        except AssertionError as e:
            server.kill()
            server.finish()
            check(False, str(e), server.describe())
        # "<PRI>TIMESTAMP dgram-serve[PID]: ..." with PRI = facility | severity
        check(start.startswith("<") and int(start[1:start.index(">")]) & ~7 == LOG_DAEMON,
              "facility is not daemon", start)
        check("dgram-serve[%d]" % server.pid in start, "ident dgram-serve[PID] missing", start)
        while b"READY=1" not in notify.recv(4096):
            pass
        server.signal(15)
        check(server.finish() == 0, "dgram serve did not exit 0 on SIGTERM", server.describe())
        messages(sock, "(UDP Port", seen)
        check(server.err == [], "with syslog, nothing goes to stderr", server.err)
    sock.close()
    notify.close()
    os.unlink(path)
    os.unlink(cfg)
    os.rmdir(tmp)


if __name__ == "__main__":
    main(test)
