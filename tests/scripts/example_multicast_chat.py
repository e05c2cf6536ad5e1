#!/usr/bin/python3
"""examples/multicast_chat: every instance on a LAN segment sees every other's
lines. Two hosts are two network namespaces this test makes, joined by a veth
pair (addresses inside the namespaces only); one chat runs in each. A line
typed into either appears at both, with its sender; end of input stops it.
Run for IPv4 (the default group) and IPv6 (ff12::8005 on the veth).
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, Proc, check, example, main, ns_wait_members, skip

NS = ["dgtest-chatA-%d" % os.getpid(), "dgtest-chatB-%d" % os.getpid()]
DEV = ["chA%d" % (os.getpid() % 10000), "chB%d" % (os.getpid() % 10000)]
V4 = ["10.97.0.1", "10.97.0.2"]
V6 = ["fd00:97::1", "fd00:97::2"]


def ip(*args):
    r = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=DEADLINE)
    check(r.returncode == 0, "ip %s failed" % " ".join(args), r.stderr)


def link():
    for ns in NS:
        ip("netns", "add", ns)
        ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
        ip("-n", ns, "link", "set", "lo", "up")
    ip("link", "add", DEV[0], "netns", NS[0], "type", "veth", "peer", "name", DEV[1], "netns", NS[1])
    for i, ns in enumerate(NS):
        ip("-n", ns, "addr", "add", V4[i] + "/24", "dev", DEV[i])
        ip("-n", ns, "addr", "add", V6[i] + "/64", "dev", DEV[i], "nodad")
        ip("-n", ns, "link", "set", DEV[i], "up")
        ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", DEV[i])


def chat(group, args):
    """One chat per namespace; both lines seen by both; exit 0 on end of input."""
    chats = [Proc(["ip", "netns", "exec", ns] + example("multicast_chat", *args(i)), name="chat-" + ns,
                  stdin=subprocess.PIPE) for i, ns in enumerate(NS)]
    for ns in NS:
        ns_wait_members(ns, group, 1)
    for i, c in enumerate(chats):
        c.p.stdin.write(b"hello from %d\n" % i)
        c.p.stdin.flush()
        # ff12:: is link-scope: an IPv6 sender may show as its link-local address.
        host = V4[i] if ":" not in group else r"(%s|fe80::[0-9a-f:]+%%\w+)" % V6[i]
        for other in chats:  # the sender hears itself too (loopback mode on)
            other.wait_line("out", r"\[?%s\]?:\d+: b'hello from %d'" % (host, i))
    for c in chats:
        c.p.stdin.close()
        check(c.finish() == 0, "chat did not exit 0 at end of input", c.describe())


def test():
    if os.geteuid() != 0:
        skip("not root: cannot make network namespaces")
    if subprocess.run(["ip", "netns", "add", NS[0]], capture_output=True).returncode != 0:
        skip("ip netns add is not allowed here")
    subprocess.run(["ip", "netns", "del", NS[0]], capture_output=True)
    try:
        link()
        chat("228.0.0.5", lambda i: ())
        chat("ff12::8005", lambda i: ("ff12::8005", "8005", DEV[i]))
    finally:
        for ns in NS:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    main(test)
