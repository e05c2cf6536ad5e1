#!/usr/bin/python3
"""The seed's connected client (Twisted's Helloer), examples/connected_client:

- against `dgram echo`: prints the Helloer's two lines exactly (the reply's
  sender as a Python tuple), then SIGINT stops it with exit status 0;
- by name: `connected_client localhost PORT` connects through the resolver;
- a name that does not resolve (looked up in a private network namespace, so
  no query leaves the machine): connection_failed prints the error naming
  the host, and the program exits 1;
- against a port nobody listens on: prints 'No one listening' (the ICMP
  refusal reaches connection_refused; Twisted's epoll reactor would close the
  port silently instead, spec 2.2), keeps running, and SIGINT ends it with 0.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import Proc, check, dead_port, dgram, example, main, netns_available, server_port, stop


def helloer(host, port, reply_host):
    """reply_host: a regex for the host the reply comes from."""
    client = Proc(example("connected_client", host, port))
    first = client.wait_line("out", r"now we can only send to host %s port %d" % (host, port))
    second = client.wait_line("out", r"received b'hello' from \('(?:%s)', %d\)" % (reply_host, port))
    stop(client)
    check(client.out == [first.group(0), second.group(0)],
          "connected_client printed more or other lines", client.describe())


def dual_stack():
    with open("/proc/sys/net/ipv6/bindv6only") as f:
        return f.read().strip() == "0"


def test():
    example("connected_client")
    server = Proc(dgram("echo", "--port", 0, "--verbose"))
    port = server_port(server)
    helloer("127.0.0.1", port, r"127\.0\.0\.1")
    stop(server)
    check(len(server.out) == 1 and server.out[0].startswith("received b'hello' from 127.0.0.1:"),
          "the echo server did not print the hello", server.describe())

    # localhost may resolve to 127.0.0.1 or ::1 first: a dual-stack server
    # answers either.
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--interface", "::" if dual_stack() else ""))
    port = server_port(server)
    helloer("localhost", port, r"127\.0\.0\.1|::1")
    stop(server)

    port = dead_port()
    client = Proc(example("connected_client", "127.0.0.1", port))
    client.wait_line("out", r"No one listening")
    stop(client)
    check(client.out == ["now we can only send to host 127.0.0.1 port %d" % port, "No one listening"],
          "connected_client printed more or other lines", client.describe())

    if netns_available():
        client = Proc(["unshare", "-rn"] + example("connected_client", "no-such-host.invalid", 9999))
        rc = client.finish()
        check(rc == 1 and len(client.err) == 1 and "no-such-host.invalid" in client.err[0],
              "connected_client to a name that does not resolve", client.describe())
    else:
        print("note: unshare -rn not allowed here: the unresolvable-name case is not run")

    client = Proc(example("connected_client", "127.0.0.1"))
    check(client.finish() == 2, "connected_client without PORT: exit status not 2", client.describe())


if __name__ == "__main__":
    main(test)
