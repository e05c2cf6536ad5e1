#!/usr/bin/python3
"""dgram serve's configuration file and command line (issue 7):

- a file with errors: every error is reported as FILE:LINE: message, with the
  right line, the exit status is 78, and nothing starts (no port is bound,
  not even the valid service's);
- --check accepts a good file without starting anything;
- --help documents the file: every section and key;
- bad command lines exit 2 with one line naming the problem.
"""
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import check, dgram, dgram_bare, main, run

TMP = tempfile.mkdtemp(prefix="dgram-serve-")

BAD = """\
# every numbered line below has exactly the error the test expects
[serve]
drain = forever
user = no-such-user-here
log = journal
[service ok]
protocol = echo
port = 0
interface = 127.0.0.1
[service a]
protocol = gopher
port = 99999
interface = example.com
group = 10.0.0.1
[service a]
port = 1
[service b]
this line has no equals sign
protocol = echo
port = 7
colour = blue
[other]
x = 1
[service empty]
[service c]
protocol = plugin
port = 5
[service d]
protocol = echo
port = 6
plugin = /x.so
[service bad name!]
protocol = echo
""" + "[service long]\nprotocol = echo\nport = 8\nargument = " + "x" * 300 + "\n"

EXPECTED = [
    (3, "drain: 'forever' is not a number of seconds from 0 to 3600"),
    (4, "user: no such user 'no-such-user-here'"),
    (5, "log: 'journal' is not stderr or syslog"),
    (11, "protocol: 'gopher' is not echo, discard, daytime, time or plugin"),
    (12, "port: '99999' is not a port number 0-65535"),
    (13, "interface: 'example.com' is not an IP address"),
    (14, "group: '10.0.0.1' is not a multicast IP address"),
    (15, "service 'a' is already defined on line 10"),
    (18, "syntax error (expected [section], KEY = VALUE or a # comment)"),
    (21, "unknown key 'colour' in [service b]"),
    (22, "unknown section [other] (expected [serve] or [service NAME])"),
    (24, "empty section"),
    (25, "service 'c': protocol = plugin needs a plugin = PATH"),
    (28, "service 'd': plugin and argument need protocol = plugin"),
    (32, "bad service name 'bad name!' (letters, digits, '-', '_', '.'; at most 63)"),
    (37, "line too long (at most 198 characters)"),
]


def config_errors():
    path = os.path.join(TMP, "bad.ini")
    with open(path, "w") as f:
        f.write(BAD)
    rc, out, err = run(dgram("serve", path))
    check(rc == 78, "exit status %d for a bad file, not 78" % rc, err)
    for line, msg in EXPECTED:
        want = "%s:%d: %s" % (path, line, msg)
        check(want in err, "missing error: %s" % want, *err)
    reported = [l for l in err if l.startswith(path + ":")]
    check(len(reported) >= len(EXPECTED), "errors", *reported)
    check(err[-1] == "dgram serve: %d errors in %s: nothing started" % (len(reported), path),
          "the summary line", err[-1])
    check(not any("starting on" in l for l in err), "a service started", *err)
    check(out == [], "stdout", out)

    empty = os.path.join(TMP, "empty.ini")
    with open(empty, "w") as f:
        f.write("# nothing\n[serve]\ndrain = 1\n")
    rc, _, err = run(dgram_bare("serve", empty))
    check(rc == 78 and "%s:3: no [service NAME] sections: nothing to serve" % empty in err,
          "a file without services", rc, err)
    rc, _, err = run(dgram_bare("serve", os.path.join(TMP, "missing.ini")))
    check(rc == 78 and err[0].endswith("missing.ini: No such file or directory"), "a missing file",
          rc, err)


def check_option():
    path = os.path.join(TMP, "good.ini")
    with open(path, "w") as f:
        f.write("; a comment\n[serve]\ndrain = 0.5\nlog = stderr\n"
                "[service e]\nprotocol = echo\nport = 7\n"
                "[service m]\nprotocol = discard\nport = 5000\ngroup = 239.1.2.3\ngroup = ff02::1:3\n"
                "group-interface = lo\nlisten-multiple = yes\nmax-packet-size = 65535\n"
                "receive-buffer = 1048576\n")
    rc, out, err = run(dgram("serve", "--check", path))
    check(rc == 0 and out == ["%s: 2 services, no errors" % path], "--check", rc, out, err)


def help_and_usage():
    rc, out, _ = run(dgram_bare("serve", "--help"))
    text = "\n".join(out)
    check(rc == 0, "--help exit status")
    for word in ("CONFIGURATION FILE", "[serve]", "[service NAME]", "user =", "group =", "pidfile =",
                 "log = stderr|syslog", "drain =", "protocol = echo|discard|daytime|time|plugin",
                 "port =", "interface =", "max-packet-size =", "receive-buffer =", "group-interface =",
                 "listen-multiple =", "plugin = PATH", "argument =", "dgram_serve_plugin_v1",
                 "SIGHUP", "SIGUSR2", "LISTEN_FDS", "NOTIFY_SOCKET", "EXIT STATUS"):
        check(word in text, "--help does not mention %r" % word)
    for argv, msg in ((["serve"], "missing CONFIG"),
                      (["serve", "--frob", "x"], "unknown option '--frob'"),
                      (["serve", "a", "b"], "one CONFIG only, got 'b' too"),
                      (["serve", "--user"], "--user needs a value"),
                      (["serve", "--user", "no-such-user-here", "x"], "--user: no such user"),
                      (["serve", "--pidfile", "rel.pid", "x"], "is not an absolute path")):
        rc, out, err = run(dgram_bare(*argv))
        check(rc == 2 and len(err) == 1 and re.match(r"dgram serve: .*%s" % re.escape(msg), err[0]),
              "usage error for %s" % argv, rc, err)


def test():
    config_errors()
    check_option()
    help_and_usage()
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)


if __name__ == "__main__":
    main(test)
