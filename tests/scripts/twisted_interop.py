#!/usr/bin/python3
"""Interoperation with Twisted 22.4 (Debian's python3-twisted), both ways:

- `dgram echo` answers a client written with Twisted's DatagramProtocol,
  which prints exactly the client lines of spec 4(i), on IPv4 and IPv6;
- `dgram send` talks to the spec 4(i) Python 3 port of the seed's echo server
  (on an ephemeral port): both sides print exactly the expected lines;
- examples/connected_client (the seed's Helloer) talks to the same server.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import DEADLINE, PYTHON, Proc, check, dgram, example, main, server_port, skip, stop

# Spec 4(i)'s Python 3 port of the seed, on an ephemeral port of a given
# interface, saying which port on stderr.
TWISTED_ECHO = r'''
import sys
from twisted.internet.protocol import DatagramProtocol
from twisted.internet import reactor

class Echo(DatagramProtocol):
    def datagramReceived(self, data, addr):
        host, port = addr
        print('received %r from %s:%d' % (data, host, port), flush=True)
        self.transport.write(data, (host, port))

p = reactor.listenUDP(0, Echo(), interface=sys.argv[1])
print('port %d' % p.getHost().port, file=sys.stderr, flush=True)
reactor.run()
'''

# The spec 4(i) client, with Twisted: one datagram at a time, each after the
# previous echo.
TWISTED_CLIENT = r'''
import sys
from twisted.internet.protocol import DatagramProtocol
from twisted.internet import reactor

host, server_port, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
status = [1]

class Client(DatagramProtocol):
    todo = [b'hello', b'', b'\x00\xffbin\n']
    def startProtocol(self):
        self.transport.write(self.todo[0], (host, server_port))
    def datagramReceived(self, data, addr):
        print('client got %r' % ((data, addr),), flush=True)
        self.todo.pop(0)
        if self.todo:
            self.transport.write(self.todo[0], (host, server_port))
        else:
            status[0] = 0
            reactor.stop()

p = reactor.listenUDP(0, Client(), interface=host)
print('port %d' % p.getHost().port, file=sys.stderr, flush=True)
reactor.callLater(deadline, reactor.stop)
reactor.run()
sys.exit(status[0])
'''

SEED = [b"hello", b"", b"\x00\xffbin\n"]


def twisted_client_to_dgram_echo(host):
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--interface", host))
    port = server_port(server)
    client = Proc([PYTHON, "-c", TWISTED_CLIENT, host, str(port), str(DEADLINE)], name="twisted client")
    cport = int(client.wait_line("err", r"port (\d+)").group(1))
    check(client.finish() == 0, "the Twisted client did not get its echoes", client.describe(), server.describe())
    want = ["client got %r" % ((d, (host, port)),) for d in SEED]
    check(client.out == want, "Twisted client lines differ", want, client.describe())
    stop(server)
    want = ["received %r from %s:%d" % (d, host, cport) for d in SEED]
    check(server.out == want, "dgram echo lines differ", want, server.describe())


def twisted_echo(host):
    server = Proc([PYTHON, "-c", TWISTED_ECHO, host], name="twisted echo")
    return server, int(server.wait_line("err", r"port (\d+)").group(1))


def dgram_send_to_twisted_echo(host, shown):
    server, port = twisted_echo(host)
    messages = ["hello", "", "it's"]
    client = Proc(dgram("send", "--verbose", host, port, *messages))
    cport = int(client.wait_line("err", r"Send starting on (\d+)").group(1))
    check(client.finish() == 0, "dgram send failed", client.describe(), server.describe())
    want = ["received %r from %s:%d" % (m.encode(), shown, port) for m in messages]
    check(client.out == want, "dgram send lines differ", want, client.describe())
    stop(server)
    want = ["received %r from %s:%d" % (m.encode(), host, cport) for m in messages]
    check(server.out == want, "Twisted echo lines differ", want, server.describe())


def helloer_to_twisted_echo():
    server, port = twisted_echo("127.0.0.1")
    client = Proc(example("connected_client", "127.0.0.1", port))
    client.wait_line("out", r"received b'hello' from \('127\.0\.0\.1', %d\)" % port)
    stop(client)
    check(client.out == ["now we can only send to host 127.0.0.1 port %d" % port,
                         "received b'hello' from ('127.0.0.1', %d)" % port],
          "connected_client lines differ", client.describe())
    stop(server)
    check(len(server.out) == 1 and server.out[0].startswith("received b'hello' from 127.0.0.1:"),
          "Twisted echo did not see the hello", server.describe())


def test():
    r = Proc([PYTHON, "-c", "import twisted.internet.protocol"], name="python3")
    if r.finish() != 0:
        skip("python3-twisted is not installed for %s" % PYTHON)
    twisted_client_to_dgram_echo("127.0.0.1")
    twisted_client_to_dgram_echo("::1")
    dgram_send_to_twisted_echo("127.0.0.1", "127.0.0.1")
    dgram_send_to_twisted_echo("::1", "[::1]")
    helloer_to_twisted_echo()


if __name__ == "__main__":
    main(test)
