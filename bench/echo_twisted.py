"""Twisted 22.4's echo server: the seed's Echo in Python 3, on the epoll
reactor, without the print (no other server prints either).

    /usr/bin/python3 echo_twisted.py PORT [--sink] [--seconds S]
"""
import argparse
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import reactor  # noqa: E402
from twisted.internet.protocol import DatagramProtocol  # noqa: E402


class Echo(DatagramProtocol):
    def datagramReceived(self, data, addr):
        self.transport.write(data, addr)


class Sink(DatagramProtocol):
    count = 0

    def datagramReceived(self, data, addr):
        self.count += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--sink", action="store_true")
    p.add_argument("--seconds", type=float, default=60)
    a = p.parse_args()
    proto = Sink() if a.sink else Echo()
    reactor.listenUDP(a.port, proto, interface="127.0.0.1")
    reactor.callLater(a.seconds, reactor.stop)
    print("READY", flush=True)
    reactor.run()  # SIGTERM stops it: Twisted installs the handler
    if a.sink:
        print("COUNT %d" % proto.count, flush=True)


if __name__ == "__main__":
    sys.exit(main())
