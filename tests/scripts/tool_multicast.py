#!/usr/bin/python3
"""dgram's multicast flags, end to end, in a network namespace this test makes:

- IPv4 on loopback: `dgram echo --group G` and `dgram listen --group G` share
  one port; `dgram send --ttl 1 G PORT hello` reaches both, the echo answers,
  and send exits 0 on that reply;
- IPv6 across a veth pair: a listener joined on one end (--interface by name)
  hears `dgram send --interface` the other end;
- bad flags: --group with a unicast address, --ttl 256, --ttl to a unicast
  HOST, and an unknown interface name.
Servers are known to have joined when the kernel lists their membership
(/proc/net/igmp, /proc/net/igmp6), so nothing waits on time.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, Proc, check, dgram, main, ns_wait_members, run, server_port, skip, stop

NS = "dgtest-mc-%d" % os.getpid()


def ip(*args):
    r = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=DEADLINE)
    check(r.returncode == 0, "ip %s failed" % " ".join(args), r.stderr)


def in_ns(argv):
    return ["ip", "netns", "exec", NS] + argv


def wait_members(group, n):
    ns_wait_members(NS, group, n)


def ipv4_on_loopback():
    group = "225.1.2.3"
    echo = Proc(in_ns(dgram("echo", "--group", group, "--port", 0, "--verbose")))
    port = server_port(echo)
    listener = Proc(in_ns(dgram("listen", "--group", group, "--port", port, "--verbose")))
    server_port(listener, "Listen")
    wait_members(group, 2)
    rc, out, err = run(in_ns(dgram("send", "--ttl", 1, group, port, "hello")))
    check(rc == 0, "send to the group exited %s" % rc, out, err)
    check(len(out) == 1 and out[0].startswith("received b'hello' from "), "send's reply line", out)
    listener.wait_line("out", r"received b'hello' from .*")
    echo.wait_line("out", r"received b'hello' from .*")
    stop(listener)
    stop(echo)


def ipv6_across_veth():
    group = "ff12::1234"
    ip("netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
    ip("-n", NS, "link", "add", "mcA", "type", "veth", "peer", "name", "mcB")
    for dev, addr in (("mcA", "fd00:98::1/64"), ("mcB", "fd00:98::2/64")):
        ip("-n", NS, "addr", "add", addr, "dev", dev, "nodad")
        ip("-n", NS, "link", "set", dev, "up")
    listener = Proc(in_ns(dgram("listen", "--group", group, "--interface", "mcB", "--port", 0,
                                "--verbose")))
    port = server_port(listener, "Listen")
    wait_members(group, 1)
    rc, out, err = run(in_ns(dgram("send", "--timeout", "0.2", "--interface", "mcA", group, port, "v6")))
    check(rc == 3, "send expects a reply nobody gives: exit 3, not %s" % rc, out, err)
    # ff12:: is link-scope: the source is mcA's link-local address once the kernel has made it.
    listener.wait_line("out", r"received b'v6' from (fd00:98::1|fe80::[0-9a-f:]+%mcB):\d+")
    stop(listener)


def bad_flags():
    for argv, word in ((("listen", "--group", "10.0.0.1"), "'10.0.0.1' is not a multicast group"),
                       (("send", "--ttl", "256", "225.1.2.3", "9", "x"), "'256' is not a TTL"),
                       (("send", "--ttl", "2", "127.0.0.1", "9", "x"), "is not a multicast group")):
        rc, out, err = run(dgram(*argv))
        check(rc == 2 and len(err) == 1 and word in err[0], "dgram %s" % " ".join(argv), rc, err)
    rc, out, err = run(in_ns(dgram("listen", "--group", "225.1.1.1", "--interface", "nosuch0")))
    check(rc == 1 and err == ["dgram listen: Couldn't join multicast group 225.1.1.1 on interface "
                              "nosuch0: No such device."], "unknown interface", rc, err)


def test():
    if os.geteuid() != 0:
        skip("not root: cannot make a network namespace")
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("ip netns add is not allowed here")
    try:
        ip("-n", NS, "link", "set", "lo", "up")
        ip("-n", NS, "route", "add", "224.0.0.0/4", "dev", "lo")
        ipv4_on_loopback()
        ipv6_across_veth()
        bad_flags()
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


if __name__ == "__main__":
    main(test)
