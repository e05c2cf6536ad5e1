#!/usr/bin/python3
"""Run the benchmark suite of issue 5 and print one table (docs/performance.md).

    /usr/bin/python3 bench/run.py --build build-bench [--runs 3] [--seconds 1]

Every server runs pinned to CPU 0 and the load generator to CPU 1, on
loopback only. Each scenario runs every server once per round, in a rotated
order, for --runs rounds; the table shows the median of the rounds, and each
ratio is the median of the per-round ratios, so servers are only compared
with numbers measured in the same round. Every process is started here,
stopped here by pid, and bounded by a timeout.
"""
import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
SERVER_CPU, GEN_CPU = "0", "1"
WINDOW = 64            # datagrams in flight in the echo scenarios
PING_COUNT, PING_WARMUP = 5000, 500
# Callgrind: three runs that differ only by the number of round trips; the
# difference of two totals, divided by the difference of the counts, is the
# cost of one datagram with start-up, warm-up and shutdown cancelled out. The
# two differences should agree; where they differ by more than 2 % (a loop
# whose work depends on timing), the server is measured again, the closer
# pair is kept, their mean is shown, and the spread is reported.
CG_COUNTS = {"default": (500, 1500, 2500), "twisted": (200, 700, 1200)}
# One in flight must mean one wake-up per datagram: under callgrind the server
# runs ~50 times slower, and a client that answered at once would find it
# still in its read loop, which then reads the next datagram without waiting
# (libevent's and libuv's loops do), hiding the cost of the wait. So the
# client pauses after each echo (microseconds).
CG_GAP_US = {"default": 1000, "twisted": 3000}
CG_SPREAD = {}  # servers whose two differences disagree: timing-dependent loop work

commands = []  # (what, command line), printed with the table
SCENARIOS = ["echo", "timers", "bulk", "callgrind"]
RUN = set(SCENARIOS)


def note_command(what, argv):
    line = " ".join(shlex.quote(a) for a in argv)
    if what.startswith("callgrind"):  # one line per server, whatever the file and count
        line = re.sub(r"--callgrind-out-file=\S+", "--callgrind-out-file=OUT", line)
        line = re.sub(r"ping PORT 64 \d+ 0 ", "ping PORT 64 N 0 ", line)
    if (what, line) not in commands:
        commands.append((what, line))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu, argv):
    return ["taskset", "-c", cpu] + argv if PIN else argv


class Server:
    """One server process: started, waited for (READY), stopped by pid."""

    def __init__(self, argv, what, ready_timeout=30):
        self.port = free_port()
        self.argv = [a.replace("PORT", str(self.port)) for a in argv]
        note_command(what, [a.replace(str(self.port), "PORT") for a in self.argv])
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_timeout
        while "READY" not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start: %s" % " ".join(self.argv))
            time.sleep(0.02)

    def output(self):
        self.out.seek(0)
        return self.out.read()

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout=60):
        """SIGTERM, then wait (bounded; SIGKILL after); returns (output, peak RSS in KiB)."""
        usage, hwm = None, None
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read())[1])
        except (OSError, TypeError):
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    _, _, usage = os.wait4(self.proc.pid, 0)
                    self.proc.returncode = -9
                    break
                time.sleep(0.02)
        out = self.output()
        self.out.close()
        # VmHWM, not ru_maxrss: the latter keeps the peak of the forked
        # Python from before exec.
        return out, hwm


def loadgen(args, what, timeout=60):
    argv = pin(GEN_CPU, [LOADGEN] + [str(a) for a in args])
    note_command(what, [a if a != str(args[1]) else "PORT" for a in argv])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return r.stdout


def servers(build):
    b = os.path.join(build, "bench")
    all_ = [
        ("dgram", [os.path.join(b, "bench_echo_dgram")]),
        ("raw", [os.path.join(b, "bench_echo_raw")]),
        # The same floor through io_uring (multishot receive, one enter per
        # batch): what an io_uring path could gain over the raw loop.
        ("uring", [os.path.join(b, "bench_echo_uring")]),
        ("libuv", [os.path.join(b, "bench_echo_uv")]),
        ("libevent", [os.path.join(b, "bench_echo_event")]),
        ("twisted", [PYTHON, os.path.join(HERE, "echo_twisted.py")]),
    ]
    have = []
    for name, argv in all_:
        if name == "twisted":
            ok = subprocess.run([PYTHON, "-c", "import twisted"], capture_output=True).returncode == 0
        else:
            ok = os.access(argv[0], os.X_OK)
        if ok:
            have.append((name, argv))
        else:
            print("skipping %s: not built or not installed" % name, file=sys.stderr)
    return have


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def measure_round(srv, rnd, seconds, res, rss):
    """One round: each server, echo at 64 and 1200 B, latency, then ingest."""
    for name, argv in rotated(srv, rnd):
        s = Server(pin(SERVER_CPU, argv + ["PORT", "--seconds", "120"]), "server " + name)
        try:
            for size in (64, 1200):
                c0 = s.cpu_seconds()
                out = loadgen(["echo", s.port, size, WINDOW, seconds],
                              "echo throughput (WINDOW in flight, SECONDS measured)")
                c1 = s.cpu_seconds()
                m = re.search(r"RATE (\d+) STALLS (\d+) TOTAL (\d+)", out)
                if m:
                    res.setdefault(("echo", size), {}).setdefault(name, []).append(int(m[1]))
                    res.setdefault(("cpu", size), {}).setdefault(name, []).append(
                        (c1 - c0) * 1e9 / max(int(m[3]), 1))
        finally:
            out, kib = s.stop()
        rss[name] = max(rss.get(name, 0), kib or 0)
        m = re.search(r"ALLOCS (\d+) (\d+)", out)
        if m:
            res.setdefault(("allocs_run",), {}).setdefault(name, []).append((int(m[1]), int(m[2])))

    for name, argv in rotated(srv, rnd):
        s = Server(pin(SERVER_CPU, argv + ["PORT", "--sink", "--seconds", "120"]), "sink " + name)
        try:
            c0 = s.cpu_seconds()
            out = loadgen(["ingest", s.port, 64, seconds], "ingest (one way, as fast as possible)")
            time.sleep(0.1)  # let the sink drain its queue
            c1 = s.cpu_seconds()
        finally:
            sout, kib = s.stop()
        m, c = re.search(r"SENT (\d+) ([\d.]+)", out), re.search(r"COUNT (\d+)", sout)
        if m and c:
            res.setdefault(("ingest",), {}).setdefault(name, []).append(int(c[1]) / float(m[2]))
            res.setdefault(("sinkcpu",), {}).setdefault(name, []).append(
                (c1 - c0) * 1e9 / max(int(c[1]), 1))
            res.setdefault(("offered",), {}).setdefault(name, []).append(int(m[1]) / float(m[2]))


def measure_latency(srv, res):
    """One datagram in flight, to every server in turn (all started, all
    pinned to the server CPU, each idle while another is pinged), so that
    each server's round trips are timed under the same conditions: this
    machine's latency drifts by more than the servers differ."""
    servers = []
    try:
        for name, argv in srv:
            servers.append((name, Server(pin(SERVER_CPU, argv + ["PORT", "--seconds", "120"]),
                                         "server " + name)))
        ports = [str(s.port) for _, s in servers]
        argv = pin(GEN_CPU, [LOADGEN, "pingmany", "64", str(PING_COUNT), str(PING_WARMUP)])
        note_command("latency (one in flight, each server in turn)", argv + ["PORT..."])
        out = subprocess.run(argv + ports, capture_output=True, text=True, timeout=120).stdout
    finally:
        for _, s in servers:
            s.stop()
    for name, s in servers:
        m = re.search(r"RTT %d ([\d.]+) ([\d.]+)" % s.port, out)
        if m:
            res.setdefault(("p50",), {}).setdefault(name, []).append(float(m[1]))
            res.setdefault(("p99",), {}).setdefault(name, []).append(float(m[2]))


def callgrind_total(path):
    """Instructions, and calls to malloc/calloc/realloc, from a callgrind file."""
    names, calls, total, cfn = {}, 0, None, None
    with open(path) as f:
        for line in f:
            if line.startswith("cfn="):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
                if m:
                    if m[2]:
                        names[m[1]] = m[2]
                    cfn = names.get(m[1])
                else:
                    cfn = line.strip()[4:]
            elif line.startswith("calls=") and cfn in ("malloc", "calloc", "realloc"):
                calls += int(line[6:].split()[0])
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return total, calls


def callgrind_runs(name, argv, counts, tmp, env=()):
    got = []
    for n in counts:
        f = os.path.join(tmp, "%s.%d.out" % (name, n))
        s = Server((["env"] + list(env) if env else []) +
                   pin(SERVER_CPU, ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + f])
                   + argv + ["PORT", "--seconds", "300"], "callgrind " + name, ready_timeout=120)
        try:
            gap = CG_GAP_US.get(name, CG_GAP_US["default"])
            out = loadgen(["ping", s.port, 64, n, 0, gap], "callgrind client (N round trips)",
                          timeout=300)
        finally:
            s.stop(timeout=120)
        lost = re.search(r"RTT \S+ \S+ (\d+)", out)
        if not lost or int(lost[1]) or not os.path.exists(f):
            return None
        got.append(callgrind_total(f))
        if got[-1][0] is None:  # the server did not finish its profile
            return None
        os.unlink(f)
    per = [((got[i + 1][0] - got[i][0]) / (counts[i + 1] - counts[i]),
            (got[i + 1][1] - got[i][1]) / (counts[i + 1] - counts[i])) for i in range(2)]
    spread = abs(per[0][0] - per[1][0]) / max(per[0][0], per[1][0], 1)
    return ((per[0][0] + per[1][0]) / 2, (per[0][1] + per[1][1]) / 2, spread)


def measure_callgrind(srv, res):
    tmp = tempfile.mkdtemp(prefix="dgram-bench-cg-")
    os.environ["PYTHONHASHSEED"] = "0"  # Twisted's start-up, the same in every run
    for name, argv in srv:
        if name == "uring":
            continue  # under valgrind its signals wait for the ring: not reliable
        counts = CG_COUNTS.get(name, CG_COUNTS["default"])
        per = callgrind_runs(name, argv, counts, tmp)
        if per and per[2] > 0.02:
            again = callgrind_runs(name, argv, counts, tmp)
            per = again if again and again[2] < per[2] else per
        if per:
            res[("instr",)][name] = [per[0]]
            if name == "dgram":  # and in its default configuration
                off = callgrind_runs(name, argv, counts, tmp, ["DGRAM_BENCH_UNBATCHED=1"])
                if off:
                    res[("instr_default",)] = {"dgram": [off[0]]}
            # Python allocates small objects from its own arenas (pymalloc), so
            # its malloc calls say nothing about its allocations: not shown.
            if name != "twisted":
                res[("allocs",)][name] = [per[1]]
            if per[2] > 0.02:
                CG_SPREAD[name] = per[2]
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)


def measure_timers(build, rounds, res):
    for _ in range(rounds):
        for name, prog in (("dgram", "bench_timers_dgram"), ("libuv", "bench_timers_uv")):
            path = os.path.join(build, "bench", prog)
            if not os.access(path, os.X_OK):
                continue
            argv = pin(SERVER_CPU, [path])
            note_command("timers " + name, argv)
            out = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
            m = re.search(r"TIMERS ([\d.]+) ([\d.]+)", out)
            if m:
                res.setdefault(("tsched",), {}).setdefault(name, []).append(float(m[1]))
                res.setdefault(("tcancel",), {}).setdefault(name, []).append(float(m[2]))
            m = re.search(r"IDLE ([\d.]+) (\d+) (\d+) WAKES (\d+)", out)
            if m:
                res.setdefault(("idle",), {}).setdefault(name, []).append(
                    (float(m[1]), int(m[4]), int(m[3])))


def measure_bulk(build, rounds, seconds, res):
    """Issue 7: one-way bulk send of 1200 B datagrams to a raw recvmmsg sink,
    by dg_port_write_segments() with GSO and without (sendmmsg), and by
    loadgen's raw sendmmsg loop. Rates are the sender's; the sink's count
    says how many of those arrived (the sink, on one CPU, may not keep up)."""
    sink = os.path.join(build, "bench", "bench_echo_raw")
    bulk = os.path.join(build, "bench", "bench_bulk_dgram")
    if not (os.access(sink, os.X_OK) and os.access(bulk, os.X_OK)):
        print("skipping bulk send: not built", file=sys.stderr)
        return
    modes = [("gso", "dgram", [bulk, "PORT", "--seconds", str(seconds)]),
             ("mmsg", "dgram", [bulk, "PORT", "--no-gso", "--seconds", str(seconds)]),
             ("mmsg", "raw", [LOADGEN, "ingest", "PORT", "1200", str(seconds)])]
    for rnd in range(rounds):
        rates = {}
        for mode, who, argv in rotated(modes, rnd):
            s = Server(pin(SERVER_CPU, [sink, "PORT", "--sink", "--seconds", "60"]),
                       "bulk sink (raw recvmmsg)")
            try:
                cmd = pin(GEN_CPU, [a.replace("PORT", str(s.port)) for a in argv])
                note_command("bulk send %s %s" % (mode, who),
                             [a.replace(str(s.port), "PORT") for a in cmd])
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=30 + seconds).stdout
                time.sleep(0.1)  # let the sink drain its queue
            finally:
                sout, _ = s.stop()
            m, c = re.search(r"SENT (\d+) ([\d.]+)(?: TOTAL (\d+))?", out), re.search(r"COUNT (\d+)", sout)
            if not m or not c or not float(m[2]):
                if mode == "gso" and not m:
                    res.setdefault(("bulk_nogso",), {})["dgram"] = [1]
                continue
            rate = int(m[1]) / float(m[2])
            sent = int(m[3]) if m[3] else int(m[1])  # all it sent, warm-up included
            rates[(mode, who)] = rate
            res.setdefault(("bulk", mode), {}).setdefault(who, []).append(rate)
            res.setdefault(("bulk_rx", mode), {}).setdefault(who, []).append(
                rate * min(int(c[1]) / max(sent, 1), 1.0))
        # The receiving side: the same GSO sender into dgram's own sink, with
        # and without GRO (trains cut apart by the library).
        dsink = os.path.join(build, "bench", "bench_echo_dgram")
        for gro in rotated([1, 0], rnd):
            s = Server(pin(SERVER_CPU, ["env", "DGRAM_BENCH_GRO=%d" % gro, dsink, "PORT", "--sink",
                                        "--seconds", "60"]),
                       "bulk sink dgram, GRO %s" % ("on" if gro else "off"))
            try:
                cmd = pin(GEN_CPU, [bulk, str(s.port), "--seconds", str(seconds)])
                note_command("bulk send gso into the dgram sink", [bulk_a if bulk_a != str(s.port)
                                                                    else "PORT" for bulk_a in cmd])
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=30 + seconds).stdout
                time.sleep(0.1)
            finally:
                sout, _ = s.stop()
            m, c = re.search(r"SENT (\d+) ([\d.]+)(?: TOTAL (\d+))?", out), re.search(r"COUNT (\d+)", sout)
            if m and c and float(m[2]):
                sent = int(m[3]) if m[3] else int(m[1])
                got = int(m[1]) / float(m[2]) * min(int(c[1]) / max(sent, 1), 1.0)
                rates[("sink", gro)] = got
                res.setdefault(("bulk_sink", gro), {}).setdefault("dgram", []).append(got)
        if ("sink", 1) in rates and ("sink", 0) in rates:
            res.setdefault(("bulk_gro_gain",), {}).setdefault("dgram", []).append(
                rates[("sink", 1)] / rates[("sink", 0)])
        if ("gso", "dgram") in rates and ("mmsg", "dgram") in rates:
            res.setdefault(("bulk_gain",), {}).setdefault("dgram", []).append(
                rates[("gso", "dgram")] / rates[("mmsg", "dgram")])


ROWS = [
    # key, label, format, higher is better
    (("echo", 64), "echo 64 B, datagrams/s", "{:,.0f}", True),
    (("echo", 1200), "echo 1200 B, datagrams/s", "{:,.0f}", True),
    (("cpu", 64), "server CPU per echo, 64 B, ns", "{:,.0f}", False),
    (("cpu", 1200), "server CPU per echo, 1200 B, ns", "{:,.0f}", False),
    (("ingest",), "ingest 64 B (sink), datagrams/s", "{:,.0f}", True),
    (("offered",), "  offered by the generator, datagrams/s", "{:,.0f}", True),
    (("sinkcpu",), "sink CPU per datagram, 64 B, ns", "{:,.0f}", False),
    (("p50",), "latency p50, one in flight, us", "{:.1f}", False),
    (("p99",), "latency p99, one in flight, us", "{:.1f}", False),
    (("instr",), "user instructions per echo (callgrind)", "{:,.0f}", False),
    (("instr_default",), "  dgram with write batching off (its default)", "{:,.0f}", False),
    (("allocs",), "heap allocations per echo (callgrind)", "{:.3f}", False),
    (("rss",), "peak RSS, KiB", "{:,.0f}", False),
    (("tsched",), "timer schedule, ns/op (1M pending)", "{:.1f}", False),
    (("tcancel",), "timer cancel, ns/op (1M pending)", "{:.1f}", False),
    (("bulk", "gso"), "bulk send 1200 B, GSO, datagrams/s", "{:,.0f}", True),
    (("bulk_rx", "gso"), "  received by the sink, datagrams/s", "{:,.0f}", True),
    (("bulk", "mmsg"), "bulk send 1200 B, sendmmsg, datagrams/s", "{:,.0f}", True),
    (("bulk_rx", "mmsg"), "  received by the sink, datagrams/s", "{:,.0f}", True),
    (("bulk_gain",), "bulk send: GSO ÷ sendmmsg", "{:.2f}", True),
    (("bulk_sink", 1), "bulk GSO into dgram's sink, GRO on, received/s", "{:,.0f}", True),
    (("bulk_sink", 0), "bulk GSO into dgram's sink, GRO off, received/s", "{:,.0f}", True),
    (("bulk_gro_gain",), "bulk receive: GRO on ÷ off", "{:.2f}", True),
]
PEERS = ["raw", "uring", "libuv", "libevent", "twisted"]


def ratio(vals, name):
    """Median over rounds of dgram's value divided by the peer's, same round."""
    a, b = vals.get("dgram"), vals.get(name)
    if not a or not b:
        return None
    rs = [x / y for x, y in zip(a, b) if y]
    return statistics.median(rs) if rs else None


def table(res, names):
    head = ["scenario"] + names + ["dgram ÷ " + p for p in PEERS if p in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, fmt, _ in ROWS:
        vals = res.get(key, {})
        if not vals:
            continue
        cells = [label]
        for n in names:
            cells.append(fmt.format(statistics.median(vals[n])) if vals.get(n) else "–")
        for p in PEERS:
            if p in names:
                r = ratio(vals, p)
                cells.append("%.2f" % r if r else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(res):
    """Issue 5's goals, each checked against this run."""
    out = []

    def check(text, ok):
        out.append("- [%s] %s" % ("x" if ok else " ", text))

    for size in (64, 1200):
        v = res.get(("echo", size), {})
        for peer, want in (("raw", 0.95), ("libuv", 1.0), ("libevent", 1.0), ("twisted", 2.5)):
            r = ratio(v, peer)
            if r is not None:
                check("1. echo %d B: dgram %.2f x %s (goal >= %.2f)" % (size, r, peer, want), r >= want)
    r = ratio(res.get(("ingest",), {}), "raw")
    if r is not None:
        check("2. ingest: dgram %.2f x raw (goal >= 0.95)" % r, r >= 0.95)
    for k in ("p50", "p99"):
        v = res.get((k,), {})
        for peer in ("libuv", "libevent"):
            r = ratio(v, peer)
            if r is not None:
                check("3. latency %s: dgram %.2f x %s (goal <= 1.00)" % (k, r, peer), r <= 1.0)
    v = res.get(("instr_default",), {}).get("dgram")
    batched = res.get(("instr",), {}).get("dgram")
    if v:
        check("4. instructions per echo: %.0f in dgram's default configuration (goal <= 300); "
              "%s with write batching on, as in the echo runs" % (v[0], "%.0f" % batched[0] if batched else "?"),
              v[0] <= 300)
    v = res.get(("allocs",), {}).get("dgram")
    runs = res.get(("allocs_run",), {}).get("dgram", [])
    if v is not None or runs:
        n = sum(a for a, _ in runs)
        d = sum(b for _, b in runs)
        ok = (not v or v[0] == 0) and n == 0
        check("5. heap allocations: %s per echo under callgrind; %d in %d datagrams after "
              "warm-up (malloc shim, echo runs)" % ("%.3f" % v[0] if v else "?", n, d), ok)
    v = res.get(("tsched",), {})
    if v.get("dgram") and v.get("libuv"):
        s = statistics.median(v["dgram"])
        c = statistics.median(res[("tcancel",)]["dgram"])
        check("6. timers: schedule %.0f ns, cancel %.0f ns with 1M pending (libuv %.0f / %.0f)"
              % (s, c, statistics.median(v["libuv"]), statistics.median(res[("tcancel",)]["libuv"])),
              True)
    idle = res.get(("idle",), {}).get("dgram")
    if idle:
        ms, wakes, due = idle[-1]
        check("6. idle with 1M timers: slept %.0f ms for a timer due in %d ms, %d wake-up(s)"
              % (ms, due, wakes), wakes == 1 and ms >= due)
    gain = res.get(("bulk_gain",), {}).get("dgram")
    if gain:
        g = statistics.median(gain)
        rx = [statistics.median(res[("bulk_rx", m)]["dgram"]) / statistics.median(res[("bulk", m)]["dgram"])
              for m in ("gso", "mmsg")]
        check("7. bulk send 1200 B: GSO %.2f x sendmmsg (goal >= 2.00); the sink received %.0f %% / "
              "%.0f %% of what each sent (delivery, contents and the fallback: tests/test_gso.c,"
              " tests/scripts/gso_netns.sh)" % (g, rx[0] * 100, rx[1] * 100), g >= 2.0)
    elif res.get(("bulk_nogso",)):
        check("7. bulk send: no UDP GSO in this kernel, not measured", False)
    elif res.get(("bulk", "mmsg")) is not None or "bulk" in RUN:
        check("7. bulk send: not measured", False)
    return "\n".join(out)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%s, nproc %d, Linux %s" % (model, os.cpu_count(), os.uname().release)


def main():
    global PIN, LOADGEN
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build-bench")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0, help="measured seconds per scenario")
    p.add_argument("--no-callgrind", action="store_true")
    p.add_argument("--out", help="also write the report (markdown) here")
    p.add_argument("--only", help="comma-separated scenarios to run: " + ",".join(SCENARIOS))
    a = p.parse_args()
    global RUN
    RUN = set(a.only.split(",")) if a.only else set(SCENARIOS)
    if not RUN <= set(SCENARIOS):
        sys.exit("--only: choose from " + ",".join(SCENARIOS))
    PIN = (os.cpu_count() or 1) >= 2 and subprocess.run(
        ["which", "taskset"], capture_output=True).returncode == 0
    LOADGEN = os.path.join(a.build, "bench", "bench_loadgen")
    if not os.access(LOADGEN, os.X_OK):
        sys.exit("no %s: build the bench targets first (make bench)" % LOADGEN)
    load = os.getloadavg()[0]
    if load > 0.3:
        print("warning: load average %.2f: other work on this machine skews the rates" % load,
              file=sys.stderr)
    srv = servers(a.build)
    names = [n for n, _ in srv]
    start = time.monotonic()
    res, rss = {}, {}
    for rnd in range(a.runs if "echo" in RUN else 0):
        print("round %d/%d ..." % (rnd + 1, a.runs), file=sys.stderr, flush=True)
        measure_round(srv, rnd, a.seconds, res, rss)
        measure_latency(srv, res)
    if "timers" in RUN:
        print("timers ...", file=sys.stderr, flush=True)
        measure_timers(a.build, a.runs, res)
    if "bulk" in RUN:
        print("bulk send ...", file=sys.stderr, flush=True)
        measure_bulk(a.build, a.runs, a.seconds, res)
    res[("instr",)], res[("allocs",)] = {}, {}
    if "callgrind" in RUN and not a.no_callgrind and subprocess.run(
            ["which", "valgrind"], capture_output=True).returncode == 0:
        print("callgrind ...", file=sys.stderr, flush=True)
        measure_callgrind(srv, res)
    res[("rss",)] = {n: [v] for n, v in rss.items()}
    # Columns for what was measured, even by a scenario without its server.
    measured = {n for vals in res.values() for n in vals}
    names = [n for n in ["dgram", "raw", "uring", "libuv", "libevent", "twisted"]
             if n in names or n in measured]

    report = ["# dgram benchmark, %s" % time.strftime("%Y-%m-%d %H:%M %Z"),
              "",
              "Machine: %s; load average %.2f at the start. Server pinned to CPU %s, generator to CPU %s%s. Median of %d rounds;"
              " ratios are medians of same-round ratios (for rates > 1 is better for dgram,"
              " for costs < 1 is)." % (machine(), load, SERVER_CPU, GEN_CPU, "" if PIN else " (NOT pinned)",
                                       a.runs),
              "",
              table(res, names),
              "",
              "Callgrind spread (the two per-datagram differences disagree by more than 2 %%): %s."
              % (", ".join("%s %.0f %%" % (n, v * 100) for n, v in CG_SPREAD.items()) or "none"),
              "",
              "Issue 5's goals in this run:",
              "",
              goals(res),
              "",
              "Commands (PORT is a free port chosen per run; rounds: %d, window %d, %s s measured"
              " after 0.3 s warm-up):" % (a.runs, WINDOW, a.seconds),
              ""]
    report += ["    %-52s %s" % (w + ":", c) for w, c in commands]
    report += ["", "Took %.0f s." % (time.monotonic() - start)]
    text = "\n".join(report)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
