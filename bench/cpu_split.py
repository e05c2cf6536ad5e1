#!/usr/bin/python3
"""User and system CPU per echo of each server, in interleaved rounds.

    /usr/bin/python3 bench/cpu_split.py --build build-bench [--runs 5]

The evidence for issue 5's goal against Twisted (docs/performance.md): with
every server limited by its own core, dgram's rate can be at most Twisted's
CPU per echo divided by dgram's kernel time per echo, whatever dgram does in
user space. Pinning, the generator and the servers are bench/run.py's.
"""
import argparse
import os
import re
import statistics

import run

SIZES = (64, 1200)


def times(pid):
    """User and system seconds of pid (/proc/PID/stat, in clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build-bench")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    run.PIN = (os.cpu_count() or 1) >= 2
    run.LOADGEN = os.path.join(a.build, "bench", "bench_loadgen")
    srv = [s for s in run.servers(a.build) if s[0] in ("dgram", "raw", "uring", "twisted")]
    res = {}
    for rnd in range(a.runs):
        for name, argv in run.rotated(srv, rnd):
            s = run.Server(run.pin(run.SERVER_CPU, argv + ["PORT", "--seconds", "120"]), name)
            try:
                for size in SIZES:
                    u0, s0 = times(s.proc.pid)
                    out = run.loadgen(["echo", s.port, size, run.WINDOW, a.seconds], "echo")
                    u1, s1 = times(s.proc.pid)
                    m = re.search(r"RATE (\d+) STALLS (\d+) TOTAL (\d+)", out)
                    if m:
                        n = max(int(m[3]), 1)
                        res.setdefault((name, size), []).append(
                            ((u1 - u0) * 1e9 / n, (s1 - s0) * 1e9 / n, int(m[1])))
            finally:
                s.stop()
    for size in SIZES:
        for name, _ in srv:
            v = res.get((name, size))
            if v:
                print("%4d B %-8s user %6.0f ns  system %6.0f ns  total %6.0f ns  rate %7.0f/s" % (
                    size, name, statistics.median(x[0] for x in v),
                    statistics.median(x[1] for x in v), statistics.median(x[0] + x[1] for x in v),
                    statistics.median(x[2] for x in v)))
        t, d = res.get(("twisted", size)), res.get(("dgram", size))
        if t and d:
            bound = [(x[0] + x[1]) / y[1] for x, y in zip(t, d) if y[1]]
            print("  Twisted's CPU / dgram's system CPU per echo, per round: %s (median %.2f)" % (
                " ".join("%.2f" % b for b in bound), statistics.median(bound)))


if __name__ == "__main__":
    main()
