#!/usr/bin/python3
"""dgram serve's daemon conventions, end to end (issue 7):

- systemd socket activation: sockets passed as systemd passes them (fds 3..,
  LISTEN_FDS, LISTEN_PID set to the daemon's own pid by a small exec
  wrapper, LISTEN_FDNAMES) are adopted by the service of that name, or by
  address when unnamed; a datagram queued before the daemon started is
  answered; with LISTEN_PID not the daemon's, they are not used;
- sd_notify by hand: READY=1, RELOADING=1 (then READY=1 again) and
  STOPPING=1 arrive on the test's NOTIFY_SOCKET (abstract, and a path);
- privilege drop: bound to a port below 1024, then running as nobody
  (/proc/PID/status), still answering; --pidfile holds its pid.
"""
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
import e2e
from e2e import DEADLINE, PYTHON, Proc, check, dgram, main, recv, udp

TMP = tempfile.mkdtemp(prefix="dgram-serve-")

# exec wrapper: lay the passed sockets out at 3.., set LISTEN_* for its own
# pid (which the exec keeps), and become the daemon.
WRAPPER = r"""
import fcntl, os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid() if sys.argv[2] == "self" else 1)
os.environ["LISTEN_FDNAMES"] = sys.argv[3]
os.execv(sys.argv[4], sys.argv[4:])
"""


def spawn(argv, fds, names, env=None, pid="self"):
    """argv (the daemon, under DGRAM_WRAP) with fds passed systemd's way."""
    orig = subprocess.Popen

    def popen(*a, **kw):
        return orig(*a, pass_fds=fds, env=env, **kw)
    subprocess.Popen = popen
    try:
        wrap = [PYTHON, "-c", WRAPPER, ",".join(map(str, fds)), pid, names]
        if e2e.WRAP:  # valgrind must be what the wrapper execs
            return Proc(wrap + [_which(e2e.WRAP[0])] + e2e.WRAP[1:] + argv[len(e2e.WRAP):],
                        name="dgram serve")
        return Proc(wrap + argv, name="dgram serve")
    finally:
        subprocess.Popen = orig


def _which(prog):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        if os.access(os.path.join(d, prog), os.X_OK):
            return os.path.join(d, prog)
    return prog


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def notify_socket(abstract):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@dgram-serve-test-%d" % os.getpid()
        s.bind("\0" + name[1:])
    else:
        name = os.path.join(TMP, "notify")
        s.bind(name)
    s.settimeout(DEADLINE)
    return s, name


def expect_notify(s, want):
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        raise e2e.Failure("no %r on NOTIFY_SOCKET within %g s" % (want, DEADLINE))
    check(want in msg.split("\n"), "notify: %r, expected %r" % (msg, want))
    return msg


def activation():
    a, b = udp(), udp()
    pa, pb = a.getsockname()[1], b.getsockname()[1]
    cfg = write("act.ini", "[serve]\ndrain = 1\n"
                "[service alpha]\nprotocol = echo\nport = 0\ninterface = 127.0.0.1\n"
                "[service beta]\nprotocol = time\nport = %d\ninterface = 127.0.0.1\n"
                "[service gamma]\nprotocol = discard\nport = 0\ninterface = 127.0.0.1\n" % pb)
    client = udp()
    client.sendto(b"queued before start", ("127.0.0.1", pa))
    note, name = notify_socket(abstract=True)
    env = dict(os.environ, NOTIFY_SOCKET=name)
    server = spawn(dgram("serve", cfg), [a.fileno(), b.fileno()], "alpha:unknown", env)
    check(int(server.wait_line("err", r".*Echo starting on (\d+)").group(1)) == pa,
          "alpha did not adopt its socket by name")
    check(int(server.wait_line("err", r".*Time starting on (\d+)").group(1)) == pb,
          "beta did not adopt the unnamed socket by address")
    pg = int(server.wait_line("err", r".*Discard starting on (\d+)").group(1))
    check(pg not in (pa, pb), "gamma took a passed socket")
    expect_notify(note, "READY=1")
    check(recv(client, "the datagram queued before start") == (b"queued before start", ("127.0.0.1", pa)),
          "the queued datagram's echo")
    client.sendto(b"t", ("127.0.0.1", pb))
    check(len(recv(client, "time")[0]) == 4, "time on the adopted socket")
    a.close()  # the daemon holds its own copies
    client.sendto(b"after", ("127.0.0.1", pa))
    check(recv(client, "echo after the test closed its copy")[0] == b"after", "echo")
    server.signal(signal.SIGHUP)
    expect_notify(note, "RELOADING=1")
    expect_notify(note, "READY=1")
    server.signal(signal.SIGTERM)
    expect_notify(note, "STOPPING=1")
    check(server.finish() == 0, "exit status", server.describe())

    # LISTEN_PID for another process: the sockets are not ours.
    server = spawn(dgram("serve", cfg), [b.fileno()], "beta", None, pid="other")
    server.wait_line("err", r".*Echo starting on (\d+)")
    server.wait_line("err", r".*Service beta failed to start: Couldn't listen on 127.0.0.1:%d: "
                     r"Address already in use\." % pb)
    check(server.finish() == 1, "beta's port is b's, held by the test: it must fail",
          server.describe())
    b.close()
    note.close()


def privilege_drop():
    if os.geteuid() != 0:
        print("privilege drop: skipped, not root", flush=True)
        return
    port = None
    # The epoll and poll runs of this test go in parallel: each searches its own range.
    top = 1023 if os.environ.get("DGRAM_BACKEND", "epoll") == "epoll" else 959
    for p in range(top, top - 60, -1):
        try:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", p))
            probe.close()
            port = p
            break
        except OSError:
            probe.close()
    check(port, "no free port below 1024")
    os.chmod(TMP, 0o1777)  # nobody's upgrade or exit may write here
    pidfile = os.path.join(TMP, "serve.pid")
    cfg = write("priv.ini", "[serve]\nuser = nobody\n"
                "[service echo]\nprotocol = echo\nport = %d\ninterface = 127.0.0.1\n" % port)
    os.chmod(cfg, 0o644)
    note, name = notify_socket(abstract=False)
    os.chmod(name, 0o666)
    os.environ["NOTIFY_SOCKET"] = name
    try:
        server = Proc(dgram("serve", "--pidfile", pidfile, "--group", "nogroup", cfg), name="dgram serve")
    finally:
        del os.environ["NOTIFY_SOCKET"]
    # Under valgrind the pid is valgrind's, which is the program's.
    server.wait_line("err", r".*Echo starting on %d" % port)
    server.wait_line("err", r".*ready: 1 services.*")
    status = open("/proc/%d/status" % server.pid).read()
    uid = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()[1:]
    gid = [l for l in status.splitlines() if l.startswith("Gid:")][0].split()[1:]
    groups = [l for l in status.splitlines() if l.startswith("Groups:")][0].split()[1:]
    check(uid == ["65534"] * 4, "uids after the drop: %s" % uid)
    check(gid == ["65534"] * 4, "gids after the drop: %s" % gid)
    check(groups in ([], ["65534"]), "supplementary groups after the drop: %s" % groups)
    check(open(pidfile).read() == "%d\n" % server.pid, "the pidfile")
    expect_notify(note, "READY=1")  # to a path socket, sent as nobody
    c = udp()
    c.sendto(b"low", ("127.0.0.1", port))
    check(recv(c, "echo on a port below 1024")[0] == b"low", "echo as nobody")
    server.signal(signal.SIGTERM)
    check(server.finish() == 0, "exit status", server.describe())
    note.close()


def test():
    activation()
    privilege_drop()
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)


if __name__ == "__main__":
    main(test)
