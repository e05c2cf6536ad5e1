#!/usr/bin/python3
"""The seed's echo server, spec section 4(i): a client bound to the loopback
sends b'hello', b'' and b'\\x00\\xffbin\\n' and reads each echo; the server's
stdout must be exactly what the seed's Python 3 port prints.

- `dgram echo` on IPv4 (bound to any, as the seed) and on ::1 (IPv6 hosts are
  printed without brackets, as Python's '%s:%d' % (host, port)).
- examples/echo_server, fixed to port 9999 like the seed, inside a private
  network namespace so that 9999 is surely free (part skipped, with a note,
  where unshare -rn is not allowed).
"""
import os
import signal
import socket
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import (DEADLINE, PYTHON, Failure, Proc, check, dgram, example, lo_up, main,
                 netns_available, recv, run, server_port, stop, udp)

SEED = [b"hello", b"", b"\x00\xffbin\n"]


def expected(host, port):
    # The seed's own format string, run by Python 3 itself.
    return ["received %r from %s:%d" % (d, host, port) for d in SEED]


def exchange(client, server_host, port):
    for d in SEED:
        client.sendto(d, (server_host, port))
        got = recv(client, "echo of %r" % d)
        check(got == (d, (server_host, port)), "wrong echo", "sent %r, got %r" % (d, got))


def dgram_echo(interface, host):
    args = ["echo", "--port", 0, "--verbose"] + (["--interface", interface] if interface else [])
    server = Proc(dgram(*args))
    port = server_port(server)
    client = udp(host)
    exchange(client, host, port)
    stop(server)
    want = expected(host, client.getsockname()[1])
    check(server.out == want, "dgram echo stdout differs from the seed's", want, server.describe())
    check("(UDP Port %d Closed)" % port in server.err, "no close log line", server.describe())


def echo_server_in_netns():
    """Run inside `unshare -rn`: examples/echo_server on 9999."""
    lo_up()
    server = Proc(example("echo_server"))
    client = udp("127.0.0.1")
    client.connect(("127.0.0.1", 9999))
    # echo_server says nothing when it is ready: the kernel's refusal (ICMP
    # port unreachable) of each try until it is bound is the event we wait on.
    # A refused datagram never reached the server, so nothing is printed twice.
    while True:
        client.send(SEED[0])
        try:
            got = client.recv(65536)
            break
        except ConnectionRefusedError:
            check(server.p.poll() is None, "echo_server exited", server.describe())
        except socket.timeout:
            raise Failure("no echo from echo_server on 9999 within %g s\n  %s" % (DEADLINE, server.describe()))
    check(got == SEED[0], "wrong echo %r" % got)
    for d in SEED[1:]:
        client.send(d)
        got = recv(client, "echo of %r" % d)
        check(got == (d, ("127.0.0.1", 9999)), "wrong echo", got)
    stop(server)
    want = expected("127.0.0.1", client.getsockname()[1])
    check(server.out == want, "echo_server stdout differs from the seed's", want, server.describe())
    check(server.err == [], "echo_server wrote to stderr", server.describe())


def test():
    # The spec's transcript, literally, so the generator above is pinned too.
    check(expected("127.0.0.1", 40001) == [
        "received b'hello' from 127.0.0.1:40001",
        "received b'' from 127.0.0.1:40001",
        "received b'\\x00\\xffbin\\n' from 127.0.0.1:40001"], "expected() drifted from spec 4(i)")
    dgram_echo(None, "127.0.0.1")
    dgram_echo("::1", "::1")
    example("echo_server")  # skips the whole test if it is not built
    if not netns_available():
        print("note: unshare -rn not allowed here: examples/echo_server on 9999 not run")
        return
    rc, out, err = run(["unshare", "-rn", PYTHON, os.path.abspath(__file__), "--in-netns"], 2 * DEADLINE)
    check(rc == 0, "echo_server run in a network namespace failed (rc %s)" % rc, *(out + err))


if __name__ == "__main__":
    main(echo_server_in_netns if sys.argv[1:] == ["--in-netns"] else test)
