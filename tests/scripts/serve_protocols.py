#!/usr/bin/python3
"""dgram serve's protocols and reload, end to end (issue 7):

- the built-in services answer as their RFCs say: echo (862) sends each
  datagram back, discard (863) sends nothing, daytime (867) answers with the
  date as text, time (868) with 4 bytes, big-endian seconds since 1900;
- a protocol from a plugin (tests/plugins/upper.c, loaded with dlopen through
  the dgram_serve_plugin_v1 symbol) answers with its argument and the
  datagram in upper case; a plugin whose create() fails stops everything;
- SIGHUP reloads: a removed service stops, an added one starts, an unchanged
  one keeps its socket (same inode) and a changed protocol on the same
  address keeps it too; a reload with errors changes nothing;
- SIGUSR2 with a new program that fails (--exec /bin/false): the old
  process keeps serving;
- SIGTERM stops gracefully, services in reverse order, exit 0.
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, Proc, check, dgram, main, program, recv, udp

TMP = tempfile.mkdtemp(prefix="dgram-serve-")


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def service(name, proto, port=0, extra=""):
    return "[service %s]\nprotocol = %s\nport = %d\ninterface = 127.0.0.1\n%s" % (name, proto, port,
                                                                                   extra)


def ports(server, names, pid):
    """Map each protocol's log name to the port it started on."""
    found = {}
    for name in names:
        m = server.wait_line("err", r"dgram serve\[%d\]: %s starting on (\d+)" % (pid, name))
        found[name] = int(m.group(1))
    return found


def inode(port):
    """The inode of the socket bound to 127.0.0.1:port (ss names it)."""
    out = subprocess.run(["ss", "-uane", "src = 127.0.0.1:%d" % port], capture_output=True,
                         text=True, timeout=DEADLINE).stdout
    m = re.search(r"ino:(\d+)", out)
    check(m, "no socket on port %d" % port, out)
    return int(m.group(1))


def builtins_and_plugin():
    plugin = program("tests", "plugins", "upper.so")
    cfg = write("a.ini", "[serve]\ndrain = 1\n" + service("echo", "echo") + service("discard", "discard")
                + service("daytime", "daytime") + service("time", "time")
                + service("upper", "plugin", extra="plugin = %s\nargument = up:\n" % plugin))
    server = Proc(dgram("serve", cfg), name="dgram serve")
    p = ports(server, ["Echo", "Discard", "Daytime", "Time", "Upper"], server.pid)
    server.wait_line("err", r"dgram serve\[\d+\]: ready: 5 services from .*")
    c = udp()
    c.sendto(b"hello", ("127.0.0.1", p["Echo"]))
    check(recv(c, "echo") == (b"hello", ("127.0.0.1", p["Echo"])), "echo's answer")
    c.sendto(b"anything", ("127.0.0.1", p["Time"]))
    data, _ = recv(c, "time")
    check(len(data) == 4, "time: 4 bytes", data)
    t = struct.unpack("!I", data)[0] - 2208988800
    check(abs(t - time.time()) < 60, "time: %d is not now (%d)" % (t, time.time()))
    c.sendto(b"", ("127.0.0.1", p["Daytime"]))
    data, _ = recv(c, "daytime")
    text = data.decode("ascii")
    check(text.endswith("\r\n") and str(time.gmtime().tm_year) in text, "daytime's text", text)
    c.sendto(b"Mixed Case", ("127.0.0.1", p["Upper"]))
    check(recv(c, "plugin")[0] == b"up:MIXED CASE", "the plugin's answer")
    # discard: nothing back, while an echo sent after it comes back first.
    c.sendto(b"gone", ("127.0.0.1", p["Discard"]))
    c.sendto(b"marker", ("127.0.0.1", p["Echo"]))
    check(recv(c, "marker")[0] == b"marker", "discard answered something")
    server.signal(signal.SIGTERM)
    server.wait_line("err", r".*SIGTERM: stopping.*")
    # Reverse order of start.
    closed = [server.wait_line("err", r".*\(UDP Port (\d+) Closed\)").group(1) for _ in range(5)]
    order = [p[n] for n in ("Upper", "Time", "Daytime", "Discard", "Echo")]
    check([int(x) for x in closed] == order, "stop order", closed, order)
    check(server.finish() == 0, "exit status after SIGTERM", server.describe())

    bad = write("b.ini", service("echo", "echo") + service("upper", "plugin",
                                                           extra="plugin = %s\nargument = fail\n" % plugin))
    server = Proc(dgram("serve", bad), name="dgram serve")
    check(server.finish() == 1, "a failing plugin: exit 1", server.describe())
    check(any("asked to fail" in l for l in server.err), "the plugin's reason", server.describe())
    check(not any("starting on" in l for l in server.err), "something started", server.describe())
    missing = write("c.ini", service("x", "plugin", extra="plugin = /nonexistent/x.so\n"))
    server = Proc(dgram("serve", missing), name="dgram serve")
    check(server.finish() == 1 and any("cannot load plugin" in l for l in server.err),
          "a missing plugin", server.describe())


def reload():
    text = ("[serve]\ndrain = 1\n" + service("keep", "echo") + service("change", "echo")
            + service("gone", "discard"))
    cfg = write("r.ini", text)
    server = Proc(dgram("serve", "--exec", "/bin/false", cfg), name="dgram serve")
    pid = server.pid
    keep = int(server.wait_line("err", r".*Echo starting on (\d+)").group(1))
    change = int(server.wait_line("err", r".*Echo starting on (\d+)").group(1))
    gone = int(server.wait_line("err", r".*Discard starting on (\d+)").group(1))
    server.wait_line("err", r".*ready: 3 services.*")
    keep_ino, change_ino = inode(keep), inode(change)
    # change: same address, now time; gone removed; new added.
    write("r.ini", "[serve]\ndrain = 1\n" + service("keep", "echo")
          + service("change", "time", change) + service("new", "echo"))
    server.signal(signal.SIGHUP)
    server.wait_line("err", r".*reloaded .*: 1 kept, 2 started, 2 stopped")
    check(inode(keep) == keep_ino, "the unchanged service's socket changed")
    check(inode(change) == change_ino, "the changed service on the same address lost its socket")
    c = udp()
    c.sendto(b"x", ("127.0.0.1", change))
    check(len(recv(c, "time after reload")[0]) == 4, "the changed service is not time")
    c.sendto(b"k", ("127.0.0.1", keep))
    check(recv(c, "keep")[0] == b"k", "the kept echo")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", gone))  # the removed service's port is free
    probe.close()
    # A broken file: errors logged with lines, nothing changes.
    write("r.ini", "[service keep]\nprotocol = nonsense\n")
    server.signal(signal.SIGHUP)
    server.wait_line("err", r".*reload: .* unchanged, the file has errors:")
    server.wait_line("err", r".*r\.ini:2: protocol: 'nonsense' is not .*")
    c.sendto(b"still", ("127.0.0.1", keep))
    check(recv(c, "after a bad reload")[0] == b"still", "a bad reload broke the service")
    # An upgrade whose new program fails: this one keeps serving.
    server.signal(signal.SIGUSR2)
    server.wait_line("err", r".*upgrade: pid \d+ exited before it was ready; still serving")
    c.sendto(b"kept", ("127.0.0.1", keep))
    check(recv(c, "after a failed upgrade")[0] == b"kept", "a failed upgrade broke the service")
    server.signal(signal.SIGTERM)
    check(server.finish() == 0, "exit status", server.describe())


def test():
    builtins_and_plugin()
    reload()
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)


if __name__ == "__main__":
    main(test)
