#!/usr/bin/python3
"""dgram's command line, without the network:

- --help, -h, help, help CMD, CMD --help and CMD -h print a manual page with
  NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS and EXAMPLES, exit 0;
- --version prints the version of include/dgram.h;
- each bad command line exits 2 with exactly one line on stderr that names
  the offending word, and prints nothing on stdout.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import SOURCE, WRAP, check, dgram, dgram_bare, main, run

SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"]

HELP = {
    ("--help",): "dgram - ", ("-h",): "dgram - ", ("help",): "dgram - ",
    ("help", "echo"): "dgram echo - ", ("echo", "--help"): "dgram echo - ",
    ("help", "listen"): "dgram listen - ", ("listen", "-h"): "dgram listen - ",
    ("help", "send"): "dgram send - ", ("send", "--help"): "dgram send - ",
    ("send", "-4", "--help"): "dgram send - ",
}

# argv, and the word the one-line error must contain.
BAD = [
    ((), "missing command"),
    (("frobnicate",), "'frobnicate'"),
    (("--frobnicate",), "'--frobnicate'"),
    (("help", "frobnicate"), "'frobnicate'"),
    (("echo", "--port", "70000"), "--port"),
    (("echo", "--port", "-1"), "--port"),
    (("echo", "--port=12x"), "--port"),
    (("echo", "-p"), "-p"),
    (("echo", "--max-packet-size", "0"), "--max-packet-size"),
    (("echo", "--max-packet-size", "65536"), "--max-packet-size"),
    (("echo", "--interface", "localhost"), "--interface"),
    (("echo", "--quiet=yes"), "--quiet"),
    (("echo", "--bogus"), "--bogus"),
    (("echo", "surplus"), "'surplus'"),
    (("listen", "--timeout", "1"), "--timeout"),
    (("send",), "HOST"),
    (("send", "127.0.0.1"), "PORT"),
    (("send", "127.0.0.1", "9999"), "MESSAGE"),
    (("send", "127.0.0.1", "99999", "m"), "PORT"),
    (("send", "127.0.0.1", "http", "m"), "PORT"),
    (("send", "--timeout", "soon", "127.0.0.1", "9999", "m"), "--timeout"),
    (("send", "--timeout", "-1", "127.0.0.1", "9999", "m"), "--timeout"),
    (("send", "--timeout", "nan", "127.0.0.1", "9999", "m"), "--timeout"),
    (("send", "--local-port", "65536", "127.0.0.1", "9999", "m"), "--local-port"),
    (("send", "-4", "-6", "127.0.0.1", "9999", "m"), "-6"),
    (("send", "--port", "1", "127.0.0.1", "9999", "m"), "--port"),
    (("send", "127.0.0.1", "9999", "m", "--timeout", "1"), "--timeout"),
]


def tool(i, *argv):
    """Under DGRAM_WRAP (valgrind), only every fourth run is wrapped: the
    parser is pure code, and a valgrind start costs about half a second."""
    return dgram(*argv) if not WRAP or i % 4 == 0 else dgram_bare(*argv)


def test():
    for i, (argv, title) in enumerate(HELP.items()):
        rc, out, err = run(tool(i, *argv))
        check(rc == 0 and err == [], "dgram %s: exit %s" % (" ".join(argv), rc), err)
        check(out[:2] == ["NAME", "    " + out[1].lstrip()] and out[1].lstrip().startswith(title),
              "dgram %s: page does not start with NAME %r" % (" ".join(argv), title), out[:3])
        missing = [s for s in SECTIONS if s not in out]
        check(not missing, "dgram %s: no section %s" % (" ".join(argv), missing), out)

    with open(os.path.join(SOURCE, "include", "dgram.h")) as f:
        version = re.search(r'#define DG_VERSION_STRING "([^"]+)"', f.read()).group(1)
    for i, flag in enumerate(("--version", "-V")):
        rc, out, err = run(tool(i, flag))
        check(rc == 0 and out == ["dgram " + version], "dgram %s" % flag, rc, out, err)

    for i, (argv, word) in enumerate(BAD):
        rc, out, err = run(tool(i, *argv))
        shown = "dgram " + " ".join(argv)
        check(rc == 2, "%s: exit %s, not 2" % (shown, rc), out, err)
        check(out == [] and len(err) == 1, "%s: not exactly one line on stderr" % shown, out, err)
        check(err[0].startswith("dgram") and word in err[0], "%s: message does not name %r" % (shown, word), err)

    # '--' lets a MESSAGE start with '-' (it fails later, on the network, not
    # on the command line: a dead port gives exit 1, not 2).
    rc, out, err = run(dgram("send", "--timeout", "5", "127.0.0.1", "9", "--", "-x"))
    check(rc != 2, "'--' before a MESSAGE starting with '-' was refused", rc, out, err)


if __name__ == "__main__":
    main(test)
