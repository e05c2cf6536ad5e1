#!/usr/bin/python3
"""dgram send, end to end, when it fails:

- refusal: a port nobody listens on gives exit 1 and 'connection refused (no
  one listening)' naming the peer (and the name, when one was given);
- timeout: a peer that reads but never answers gives exit 3 after --timeout,
  and one that answers only the first of two MESSAGEs says '1 of 2';
- SIGINT before every reply: exit 130, saying how many came;
- a name that does not resolve gives a non-zero exit naming the host (looked
  up inside a private network namespace, so no query leaves the machine).
"""
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import Proc, check, dead_port, dgram, main, netns_available, recv, run, udp


def refusal():
    port = dead_port()
    rc, out, err = run(dgram("send", "127.0.0.1", port, "hello"))
    check(rc == 1, "send to a dead port: exit %s, not 1" % rc, out, err)
    check(err == ["dgram send: 127.0.0.1:%d: connection refused (no one listening)" % port],
          "send's refusal message", out, err)
    rc, out, err = run(dgram("send", "-4", "localhost", port, "hello"))
    check(rc == 1 and err == ["dgram send: localhost (127.0.0.1:%d): connection refused (no one listening)"
                              % port], "send's refusal message for a name", rc, out, err)



def timeout():
    silent = udp()
    port = silent.getsockname()[1]
    client = Proc(dgram("send", "--timeout", "0.5", "127.0.0.1", port, "anyone?"))
    data, addr = recv(silent, "dgram send's datagram")
    check(data == b"anyone?", "the silent peer got %r" % data)
    rc = client.finish()
    check(rc == 3, "send to a silent peer: exit %s, not 3" % rc, client.describe())
    check(client.err == ["dgram send: 127.0.0.1:%d: 0 of 1 replies within 0.5 s" % port],
          "send's timeout message", client.describe())

    # Answer the first of two: one line, then the timeout says 1 of 2.
    client = Proc(dgram("send", "--timeout", "2", "127.0.0.1", port, "a", "b"))
    data, addr = recv(silent, "dgram send's first datagram")
    silent.sendto(data, addr)
    client.wait_line("out", r"received b'a' from 127\.0\.0\.1:%d" % port)
    rc = client.finish()
    check(rc == 3 and client.err == ["dgram send: 127.0.0.1:%d: 1 of 2 replies within 2 s" % port],
          "partial replies", client.describe())
    silent.close()



def interrupted():
    silent = udp()
    port = silent.getsockname()[1]
    client = Proc(dgram("send", "--timeout", "0", "127.0.0.1", port, "waiting"))
    recv(silent, "dgram send's datagram")
    client.signal(signal.SIGINT)
    rc = client.finish()
    check(rc == 130 and client.err == ["dgram send: interrupted after 0 of 1 replies"],
          "send interrupted: exit %s" % rc, client.describe())
    silent.close()


def unresolvable():
    if not netns_available():
        print("note: unshare -rn not allowed here: the unresolvable-name case is not run")
        return
    host = "no-such-host.invalid"
    rc, out, err = run(["unshare", "-rn"] + dgram("send", "--timeout", "10", host, 9999, "x"))
    check(rc in (1, 3), "send to an unresolvable name: exit %s, not 1 (or 3)" % rc, out, err)
    check(len(err) == 1 and err[0].startswith("dgram send: ") and host in err[0],
          "send's message does not name the host", out, err)



def test():
    refusal()
    timeout()
    interrupted()
    unresolvable()


if __name__ == "__main__":
    main(test)
