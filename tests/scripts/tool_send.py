#!/usr/bin/python3
"""dgram send, end to end, when it works:

- replies: one line per reply, 'received b'...' from ADDR:PORT', exit 0 once
  every MESSAGE has its reply (IPv4, and IPv6 in brackets);
- names: 'localhost' is resolved (with -4, and unrestricted);
- local options: --local-port and --interface bind the client's side.
(tool_send_errors covers refusal, timeouts and names that do not resolve.)
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import Proc, check, dead_port, dgram, main, run, server_port, stop


def replies(server, port):
    rc, out, err = run(dgram("send", "127.0.0.1", port, "one", "", "\x7f"))
    check(rc == 0, "send to an echo server: exit %s" % rc, out, err)
    check(out == ["received b'one' from 127.0.0.1:%d" % port, "received b'' from 127.0.0.1:%d" % port,
                  "received b'\\x7f' from 127.0.0.1:%d" % port], "send's reply lines", out, err)
    check(err == [], "send wrote to stderr", err)



def names(port, dual_port):
    rc, out, err = run(dgram("send", "-4", "localhost", port, "by name"))
    check(rc == 0 and out == ["received b'by name' from 127.0.0.1:%d" % port],
          "send -4 localhost", rc, out, err)
    # Unrestricted, localhost may be 127.0.0.1 or ::1: the dual-stack server answers either.
    rc, out, err = run(dgram("send", "localhost", dual_port, "by name"))
    check(rc == 0 and out in (["received b'by name' from 127.0.0.1:%d" % dual_port],
                              ["received b'by name' from [::1]:%d" % dual_port]),
          "send localhost", rc, out, err)



def local_side(port):
    local = dead_port()
    rc, out, err = run(dgram("send", "--local-port", local, "--interface", "127.0.0.1",
                             "127.0.0.1", port, "from a fixed port"))
    check(rc == 0, "send --local-port: exit %s" % rc, out, err)
    return local



def test():
    server = Proc(dgram("echo", "--port", 0, "--verbose"))
    port = server_port(server)
    with open("/proc/sys/net/ipv6/bindv6only") as f:
        dual = f.read().strip() == "0"
    server6 = Proc(dgram("echo", "--port", 0, "--verbose", "--interface", "::" if dual else "::1"))
    port6 = server_port(server6)

    replies(server, port)
    rc, out, err = run(dgram("send", "-6", "::1", port6, "six"))
    check(rc == 0 and out == ["received b'six' from [::1]:%d" % port6], "send -6 ::1", rc, out, err)
    names(port, port6 if dual else port)
    local = local_side(port)

    stop(server)
    stop(server6)
    check("received b'from a fixed port' from 127.0.0.1:%d" % local in server.out,
          "the echo server did not see --local-port's port", server.describe())


if __name__ == "__main__":
    main(test)
