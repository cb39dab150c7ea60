#!/usr/bin/env python3
"""`make bench`: ksight's overhead, throughput and start-up, side by side with
libbpf-tools syscount and bpftrace, measured in one run on this machine.

  bench/run.py [--build build] [--quick] [--reps N] [--seed N] [--only CFG,...]

Writes the raw numbers to BUILD/bench/results.json and a Markdown report to
BUILD/bench/benchmarks.md; a full run (not --quick) also copies both to
docs/benchmarks.json and docs/benchmarks.md. Needs root (it loads BPF).

Method (see docs/benchmarks.md):
- overhead: bench/hammer.c pinned to CPU 1 makes syscalls for a fixed time and
  reports its own CPU time per call (CLOCK_THREAD_CPUTIME_ID: other tasks that
  share the CPU do not count); every tracer runs pinned to CPU 0. Each traced
  run is paired with an untraced run immediately before it; configurations
  run in a shuffled order, each repetition reshuffled; the tables give the
  median and min-max over repetitions of the per-pair added ns and ratio.
- throughput: the hammer paced at a target rate for a while, ksight streaming a
  `syscall` record per call (--slow 0, --pid hammer) to a file; delivered
  records vs the hammer's own count, drops from the final agent.heartbeat,
  agent CPU from /proc/PID/stat, peak RSS from /proc/PID/status.
- start-up: launch to the agent.status "running" record.
- lifecycle: the process probe's added CPU per fork+exec+exit (paired runs of
  tests/triggers/proc_trigger), the agent's CPU per process, and the workload
  identity microbenchmark (bench/identity_bench.cc).
"""
import argparse
import datetime
import json
import os
import platform
import random
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAMMER_CPU = 1
TRACER_CPU = 0
BPFTRACE_PROG = "tracepoint:raw_syscalls:sys_enter { @[args->id] = count(); }"
SYSCOUNT = "/usr/sbin/syscount"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def pin(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


# ---------------------------------------------------------------- the hammer


class Hammer:
    """One ks-hammer process, started in --wait mode."""

    def __init__(self, build, args):
        argv = [os.path.join(build, "bench", "ks-hammer"), "--cpu", str(HAMMER_CPU), "--wait"] + args
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError(f"ks-hammer did not start: {line}")
        self.pid = int(line[1])

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def result(self):
        out = self.p.stdout.readline()
        self.p.wait()
        if self.p.returncode != 0:
            raise RuntimeError(f"ks-hammer failed (exit {self.p.returncode})")
        return json.loads(out)


# ---------------------------------------------------------------- tracers


class Tracer:
    """A tracer process pinned to TRACER_CPU, started and stopped around a run."""

    def __init__(self, argv, ready, out_path=None, settle=0.3, stdout_path=None):
        self.argv = argv
        self.ready = ready  # ("stdout", marker) or ("file", marker)
        self.out_path = out_path
        self.settle = settle
        self.stdout_path = stdout_path
        self.p = None
        self.t_launch = None

    def start(self, timeout=30.0):
        self.stdout_f = open(self.stdout_path or os.devnull, "w")
        self.t_launch = time.monotonic()
        self.t_launch_unix = time.time_ns()
        kind, marker = self.ready
        # stdio tools buffer a piped stdout: stdbuf makes them print the marker at once.
        argv = ["stdbuf", "-oL"] + self.argv if kind == "stdout" else self.argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE if kind == "stdout" else self.stdout_f,
                                  stderr=subprocess.DEVNULL, text=True, preexec_fn=pin(TRACER_CPU))
        deadline = time.monotonic() + timeout
        if kind == "stdout":
            seen = threading.Event()

            def drain():  # read all it prints, so it never blocks on a full pipe
                for line in self.p.stdout:
                    if marker in line:
                        seen.set()

            self.reader = threading.Thread(target=drain, daemon=True)
            self.reader.start()
            while not seen.wait(0.01):
                if self.p.poll() is not None:
                    raise RuntimeError(f"{self.argv[0]} exited ({self.p.returncode}) before it was ready")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.argv[0]}: not ready after {timeout} s")
        else:
            while True:
                if self.p.poll() is not None:
                    raise RuntimeError(f"{shlex.join(self.argv)} exited ({self.p.returncode}) before it was ready")
                line = find_line(self.out_path, marker)
                if line:
                    self.ready_line = line
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.argv[0]}: not ready after {timeout} s")
                time.sleep(0.002)
        self.t_ready = time.monotonic()
        time.sleep(self.settle)

    def stop(self, timeout=60.0):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.stdout_f.close()


def find_line(path, marker):
    try:
        with open(path, "rb") as f:
            for line in f:
                if marker.encode() in line:
                    return line.decode()
    except FileNotFoundError:
        pass
    return None


def make_tracer(name, build, tmpdir, hammer_pid):
    ksight = os.path.join(build, "ksight")
    out = os.path.join(tmpdir, f"{name}.json")
    if os.path.exists(out):
        os.unlink(out)
    empty_obj = os.path.join(build, "bench", "empty.bpf.o")
    empty = os.path.join(build, "bench", "ks-empty")
    running = '"state":"running"'
    if name == "ksight_stats":
        # --max-size 0: the runs count the lines of one file; rotation would move them away.
        return Tracer([ksight, "run", "--probes", "syscalls", "--output", out, "--max-size", "0"], ("file", running), out)
    if name == "ksight_stream":
        return Tracer([ksight, "run", "--probes", "syscalls", "--slow", "0", "--pid", str(hammer_pid),
                       "--output", out, "--max-size", "0"], ("file", running), out)
    if name == "syscount":
        return Tracer([SYSCOUNT], ("stdout", "Tracing"))
    if name == "syscount_L":
        return Tracer([SYSCOUNT, "-L"], ("stdout", "Tracing"))
    if name == "bpftrace":
        # bpftrace prints "Attaching" before it attaches: give it a moment more.
        return Tracer(["bpftrace", "-e", BPFTRACE_PROG], ("stdout", "Attaching"), settle=1.0)
    if name == "empty_enter":
        return Tracer([empty, empty_obj, "empty_enter"], ("stdout", "attached"))
    if name == "empty_pair":
        return Tracer([empty, empty_obj, "empty_enter", "empty_exit"], ("stdout", "attached"))
    raise ValueError(name)


CONFIGS = [
    ("none", "no tracer (baseline vs baseline: the noise floor)"),
    ("ksight_stats", "ksight syscall stats (`ksight run --probes syscalls`)"),
    ("ksight_stream", "ksight, a `syscall` record per call (`--slow 0 --pid HAMMER`) to a file"),
    ("syscount", "libbpf-tools `syscount`"),
    ("syscount_L", "libbpf-tools `syscount -L`"),
    ("bpftrace", f"`bpftrace -e '{BPFTRACE_PROG}'`"),
    ("empty_enter", "empty BPF program, tp_btf/sys_enter (floor of one hook; bench/empty.bpf.c)"),
    ("empty_pair", "empty BPF programs, tp_btf/sys_enter + sys_exit (floor of ksight's two hooks)"),
]
WORKLOADS = ["getppid", "mix"]


def run_hammer(build, dur, tracer_name=None, tmpdir=None):
    h = Hammer(build, ["--duration", str(dur), "--workload", ",".join(WORKLOADS)])
    tracer = None
    extra = {}
    try:
        if tracer_name:
            tracer = make_tracer(tracer_name, build, tmpdir, h.pid)
            tracer.start()
        h.go()
        res = h.result()
    finally:
        if h.p.poll() is None:
            h.p.kill()
        if tracer:
            tracer.stop()
            if tracer.out_path and tracer_name == "ksight_stream":
                extra = agent_counters(tracer.out_path)
            if tracer.out_path and os.path.exists(tracer.out_path):
                os.unlink(tracer.out_path)
    return res, extra


def overhead(args, tmpdir):
    names = [c for c, _ in CONFIGS if not args.only or c in args.only]
    rng = random.Random(args.seed)
    pairs = {n: [] for n in names}
    for rep in range(args.reps):
        order = names[:]
        rng.shuffle(order)
        log(f"overhead repetition {rep + 1}/{args.reps}: {' '.join(order)}")
        for n in order:
            base, _ = run_hammer(args.build, args.dur)
            traced, extra = run_hammer(args.build, args.dur, None if n == "none" else n, tmpdir)
            pair = {"rep": rep, "baseline": base, "traced": traced}
            if extra:
                pair["agent"] = extra
            pairs[n].append(pair)
    summary = {}
    for n in names:
        summary[n] = {}
        for w in WORKLOADS:
            added = [p["traced"][w]["cpu_ns_per_call"] - p["baseline"][w]["cpu_ns_per_call"] for p in pairs[n]]
            ratio = [p["traced"][w]["cpu_ns_per_call"] / p["baseline"][w]["cpu_ns_per_call"] for p in pairs[n]]
            base = [p["baseline"][w]["cpu_ns_per_call"] for p in pairs[n]]
            summary[n][w] = {"added_ns": stats(added), "ratio": stats(ratio), "baseline_ns": stats(base)}
    return {"pairs": pairs, "summary": summary}


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# ---------------------------------------------------------------- agent output


def agent_counters(path):
    """The last agent.heartbeat's syscalls counters and the agent.loss totals."""
    out = subprocess.run(["grep", "-F", '"type":"agent.', path], capture_output=True, text=True).stdout
    hb, losses = None, []
    for line in out.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        t = rec["event"]["type"]
        if t == "agent.heartbeat":
            hb = rec["counters"].get("syscalls")
        elif t == "agent.loss":
            losses.append(rec["loss"])
    lost = sum(l["count"] for l in losses)
    return {"heartbeat_syscalls": hb, "loss_records": len(losses), "loss_count": lost}


def count_lines(path, needle):
    r = subprocess.run(["grep", "-c", "-F", needle, path], capture_output=True, text=True)
    return int(r.stdout.strip() or 0)


def proc_cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks  # utime + stime


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def throughput(args, tmpdir):
    results = []
    for rate in args.rates:
        log(f"throughput at {rate / 1e6:.1f} M events/s for {args.tput_dur} s")
        h = Hammer(args.build, ["--duration", str(args.tput_dur), "--rate", str(int(rate))])
        out = os.path.join(args.stream_dir or tmpdir, "stream.json")
        if os.path.exists(out):
            os.unlink(out)
        tr = Tracer([os.path.join(args.build, "ksight"), "run", "--probes", "syscalls", "--slow", "0",
                     "--pid", str(h.pid), "--interval", "1s", "--output", out, "--max-size", "0"], ("file", '"state":"running"'),
                    out)
        try:
            tr.start()
            pid = tr.p.pid
            cpu0 = proc_cpu_ns(pid)
            t0 = time.monotonic()
            h.go()
            res = h.result()
            t_hammer = time.monotonic() - t0
            # Let the agent catch up: wait until the file stops growing (2 drain periods + slack).
            last, still = -1, 0
            while still < 3:
                time.sleep(0.05)
                size = os.path.getsize(out)
                still = still + 1 if size == last else 0
                last = size
            cpu1 = proc_cpu_ns(pid)
            hwm_kb = proc_status_kb(pid, "VmHWM")
            rss_kb = proc_status_kb(pid, "VmRSS")
        finally:
            if h.p.poll() is None:
                h.p.kill()
            tr.stop()
        # syscall records only (syscall.stats records carry the same name, no args).
        delivered = count_lines(out, '"syscall":{"name":"getppid","nr":110,"args"')
        counters = agent_counters(out)
        size = os.path.getsize(out)
        os.unlink(out)
        cpu_pct = (cpu1 - cpu0) / 1e9 / t_hammer * 100
        achieved = res["rate"]
        hb = counters["heartbeat_syscalls"] or {}
        r = {
            "target_rate": rate,
            "achieved_rate": achieved,
            "hammer_calls": res["calls"],
            "delivered": delivered,
            "missing": res["calls"] - delivered,
            "dropped": hb.get("dropped"),
            "dropped_by_reason": hb.get("dropped_by_reason"),
            "heartbeat": hb,
            "loss_records": counters["loss_records"],
            "agent_cpu_pct": cpu_pct,
            "delivered_rate": delivered / t_hammer,
            "rss_peak_mb": hwm_kb / 1024,
            "rss_end_mb": rss_kb / 1024,
            "file_bytes": size,
            "bytes_per_record": size / max(1, delivered),
            "seconds": t_hammer,
        }
        r["agent_cpu_pct_per_100k"] = cpu_per_100k(r)
        results.append(r)
        log(f"  delivered {delivered}/{res['calls']}, dropped {hb.get('dropped')}, cpu {cpu_pct:.1f} %, "
            f"rss {hwm_kb / 1024:.1f} MB")
    return results


# ---------------------------------------------------------------- process lifecycle


def spawn_run(build, n):
    """proc_trigger pinned to HAMMER_CPU: n x (fork, exec itself, exit 0, wait). Its CPU time
    includes the children it reaped (wait4's rusage), where the probe's exec/exit programs run."""
    trig = os.path.join(build, "triggers", "proc_trigger")
    t0 = time.monotonic()
    p = subprocess.Popen([trig, "-n", str(n), "-m", "1"], stdout=subprocess.DEVNULL, preexec_fn=pin(HAMMER_CPU))
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        raise RuntimeError(f"proc_trigger failed (status {status})")
    return {"cpu_ns_per_process": (ru.ru_utime + ru.ru_stime) * 1e9 / n, "wall_us_per_process": wall * 1e6 / n}


def lifecycle(args, tmpdir):
    """The process probe's cost per fork+exec+exit (paired, like the syscall overhead), the
    agent's CPU per process, and what workload identity adds per record (bench/identity_bench.cc)."""
    n = args.spawns
    out = os.path.join(tmpdir, "process.json")
    ksight = os.path.join(args.build, "ksight")
    pairs = []
    for rep in range(args.reps):
        base = spawn_run(args.build, n)
        if os.path.exists(out):
            os.unlink(out)
        tr = Tracer([ksight, "run", "--probes", "process", "--output", out, "--max-size", "0"],
                    ("file", '"state":"running"'), out)
        old_ids = {p["id"] for p in bpf_progs()}
        tr.start()
        ids = {p["id"] for p in bpf_progs()} - old_ids
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            old_stats = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        try:
            before = prog_stats(ids)
            a0 = proc_cpu_ns(tr.p.pid)
            traced = spawn_run(args.build, n)
            a1 = proc_cpu_ns(tr.p.pid)
            after = prog_stats(ids)
        finally:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(old_stats)
        tr.stop()
        progs = {}
        for key, (rt, cnt) in after.items():
            rt0, cnt0 = before.get(key, (0, 0))  # no run_cnt yet: none since stats were enabled
            if cnt > cnt0:
                progs[key[1]] = (rt - rt0) / (cnt - cnt0)
        recs = count_lines(out, '"type":"process.exit"')
        os.unlink(out)
        pairs.append({"rep": rep, "baseline": base, "traced": traced,
                      "agent_cpu_ns_per_process": (a1 - a0) / n, "exit_records": recs,
                      "bpf_ns_per_run": progs})
        log(f"lifecycle {rep + 1}/{args.reps}: {base['cpu_ns_per_process']:.0f} -> "
            f"{traced['cpu_ns_per_process']:.0f} ns CPU per process")
    added = [p["traced"]["cpu_ns_per_process"] - p["baseline"]["cpu_ns_per_process"] for p in pairs]
    ratio = [p["traced"]["cpu_ns_per_process"] / p["baseline"]["cpu_ns_per_process"] for p in pairs]
    res = {"spawns_per_run": n, "pairs": pairs, "added_ns": stats(added), "ratio": stats(ratio),
           "baseline_ns": stats([p["baseline"]["cpu_ns_per_process"] for p in pairs]),
           "agent_ns": stats([p["agent_cpu_ns_per_process"] for p in pairs]),
           "bpf_ns_per_run": {k: stats([p["bpf_ns_per_run"][k] for p in pairs if k in p["bpf_ns_per_run"]])
                              for k in sorted({k for p in pairs for k in p["bpf_ns_per_run"]})}}
    ib = os.path.join(args.build, "ksight_identity_bench")
    if os.path.exists(ib):
        res["identity"] = json.loads(subprocess.run([ib], capture_output=True, text=True, check=True,
                                                    preexec_fn=pin(HAMMER_CPU)).stdout)
    return res


def cpu_per_100k(r):
    """Agent CPU % per 100 k delivered records/s (dropped records cost the agent next to nothing)."""
    rate = r["delivered"] / r["seconds"]
    return r["agent_cpu_pct"] / (rate / 1e5) if rate else float("inf")


def startup(args, tmpdir):
    res = {}
    for label, probes in (("all_probes", []), ("syscalls_only", ["--probes", "syscalls"])):
        times = []
        for _ in range(args.startup_reps):
            out = os.path.join(tmpdir, "startup.json")
            if os.path.exists(out):
                os.unlink(out)
            tr = Tracer([os.path.join(args.build, "ksight"), "run", *probes, "--output", out, "--max-size", "0"],
                        ("file", '"state":"running"'), out, settle=0)
            tr.start()
            rec = json.loads(tr.ready_line)
            tr.stop()
            # The record's own timestamp minus the launch: no polling error.
            times.append((rec["ts_unix_nano"] - tr.t_launch_unix) / 1e9)
            os.unlink(out)
        res[label] = stats(times)
        log(f"start-up ({label}): median {res[label]['median'] * 1000:.0f} ms")
    return res


# ---------------------------------------------------------------- bpf_stats profile


def bpf_progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    try:
        return json.loads(out or "[]")
    except json.JSONDecodeError:
        return []


def prog_stats(ids):
    """run time / count of the programs with these ids."""
    return {(p["id"], p.get("name", "")): (p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in bpf_progs() if "run_cnt" in p and p["id"] in ids}


def foreign_tracers():
    """Tracing programs of other processes loaded now: they slow every run, traced or not."""
    return sorted({p.get("name", "?") for p in bpf_progs()
                   if p.get("type") in ("tracing", "tracepoint", "raw_tracepoint", "kprobe")})


def bpf_profile(args, tmpdir):
    """Per-program run time from kernel.bpf_stats_enabled (adds its own ~10-20 ns per run)."""
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old = f.read().strip()
    res = {}
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for name in ("ksight_stats", "ksight_stream", "empty_pair"):
            if args.only and name not in args.only:
                continue
            h = Hammer(args.build, ["--duration", str(args.dur), "--workload", "getppid"])
            tr = make_tracer(name, args.build, tmpdir, h.pid)
            try:
                old_ids = {p["id"] for p in bpf_progs()}
                tr.start()
                # The tracer's programs: those loaded since (bpftool here cannot name owners).
                ids = {p["id"] for p in bpf_progs()} - old_ids
                before = prog_stats(ids)
                h.go()
                h.result()
                after = prog_stats(ids)
            finally:
                if h.p.poll() is None:
                    h.p.kill()
                tr.stop()
                if tr.out_path and os.path.exists(tr.out_path):
                    os.unlink(tr.out_path)
            res[name] = {}
            for key, (rt, cnt) in after.items():
                if key in before:
                    drt, dcnt = rt - before[key][0], cnt - before[key][1]
                    if dcnt > 0:
                        res[name][key[1]] = {"ns_per_run": drt / dcnt, "runs": dcnt}
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
    return res


# ---------------------------------------------------------------- report


def machine_info(args):
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "cpus": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"),
        "loadavg_start": os.getloadavg(),
        "foreign_bpf_tracers_start": foreign_tracers(),
        "ksight_version": cmd([os.path.join(args.build, "ksight"), "version"]),
        "bpftrace_version": cmd(["bpftrace", "--version"]),
        "libbpf_tools_version": cmd(["dpkg-query", "-W", "-f", "${Version}", "libbpf-tools"]),
        "command": "make bench" + (" QUICK=1" if args.quick else ""),
        "mode": "quick" if args.quick else "full",
        "reps": args.reps,
        "seconds_per_run": args.dur,
        "seed": args.seed,
    }


def fmt_stat(s, unit="", digits=0):
    f = f"{{:.{digits}f}}"
    return f"{f.format(s['median'])}{unit} ({f.format(s['min'])}–{f.format(s['max'])})"


def targets(res):
    t = []
    ov = res.get("overhead", {}).get("summary", {})
    if all(k in ov for k in ("ksight_stats", "syscount", "syscount_L")):
        k = ov["ksight_stats"]["getppid"]["added_ns"]["median"]
        s = ov["syscount"]["getppid"]["added_ns"]["median"]
        sl = ov["syscount_L"]["getppid"]["added_ns"]["median"]
        t.append(("stats mode added cost ≤ 0.5× `syscount -L` (getppid)", f"{k:.0f} ns vs 0.5 × {sl:.0f} = "
                  f"{0.5 * sl:.0f} ns ({k / sl:.2f}×)", k <= 0.5 * sl))
        t.append(("stats mode added cost ≤ 1.0× `syscount` (getppid)", f"{k:.0f} ns vs {s:.0f} ns ({k / s:.2f}×)",
                  k <= s))
    tp = res.get("throughput", [])
    top = max(tp, key=lambda r: r["target_rate"]) if tp else None
    if top:
        ok = top["achieved_rate"] >= 1.5e6 * 0.99 and top["missing"] == 0 and (top["dropped"] or 0) == 0
        t.append(("streaming ≥ 1.5 M events/s to a file, zero drops",
                  f"{top['achieved_rate'] / 1e6:.2f} M/s offered, {top['delivered']} of {top['hammer_calls']} "
                  f"delivered, {top['dropped']} dropped", ok))
        worst = max(cpu_per_100k(r) for r in tp)
        t.append(("≤ 2.5 % of a core per 100 k events/s", f"{worst:.2f} % per 100 k delivered/s (worst rate)",
                  worst <= 2.5))
        rss = max(r["rss_peak_mb"] for r in tp)
        t.append(("RSS ≤ 50 MB", f"{rss:.1f} MB peak", rss <= 50))
    su = res.get("startup", {})
    if "all_probes" in su:
        m = su["all_probes"]["median"]
        t.append(("start-up ≤ 0.5 s (all probes)", f"{m * 1000:.0f} ms", m <= 0.5))
    return t


def markdown(res, notes):
    m = res["machine"]
    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append("<!-- Generated by bench/run.py (`make bench`): do not edit by hand; the notes at the end come "
             "from bench/notes.md. -->")
    L.append("")
    L.append(f"- Date: {m['date']}; command: `{m['command']}` ({m['mode']} mode: {m['reps']} repetitions, "
             f"{m['seconds_per_run']} s per workload per run, seed {m['seed']})")
    L.append(f"- Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory']}; kernel {m['kernel']}")
    L.append(f"- {m['ksight_version']}; {m['bpftrace_version']}; libbpf-tools {m['libbpf_tools_version']}")
    la0, la1 = m["loadavg_start"], m.get("loadavg_end", m["loadavg_start"])
    L.append(f"- Load average at start {la0[0]:.2f}, at end {la1[0]:.2f}" +
             (" — **the machine was busy with other work: treat these numbers as noisy**" if m.get("busy") else ""))
    foreign = m.get("foreign_bpf_tracers_start")
    if foreign:
        L.append(f"- BPF tracing programs of other processes were loaded at the start: {', '.join(foreign)} "
                 "(they slow traced and untraced runs alike)")
    L.append("- Raw numbers: `docs/benchmarks.json` (a copy of `build/bench/results.json`)")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")
    for name, val, ok in targets(res):
        L.append(f"| {name} | {val} | {'yes' if ok else '**no**'} |")
    L.append("")
    ov = res.get("overhead")
    if ov:
        L.append("## Overhead per syscall")
        L.append("")
        L.append("CPU time per syscall of the hammer (pinned to CPU 1; the tracer pinned to CPU 0), traced minus "
                 "the untraced run just before it: median (min–max) over the repetitions. `mix` is getppid, "
                 "1-byte read of /dev/zero, 1-byte write to /dev/null, clock_gettime via syscall(2), openat + "
                 "close, per syscall.")
        L.append("")
        L.append("| configuration | getppid added ns | getppid ratio | mix added ns | mix ratio |")
        L.append("|---|---|---|---|---|")
        labels = dict(CONFIGS)
        for n, _ in CONFIGS:
            s = ov["summary"].get(n)
            if not s:
                continue
            L.append(f"| {labels[n]} | {fmt_stat(s['getppid']['added_ns'])} | "
                     f"{fmt_stat(s['getppid']['ratio'], '×', 2)} | {fmt_stat(s['mix']['added_ns'])} | "
                     f"{fmt_stat(s['mix']['ratio'], '×', 2)} |")
        allb = [p["baseline"]["getppid"]["cpu_ns_per_call"] for v in ov["pairs"].values() for p in v]
        allm = [p["baseline"]["mix"]["cpu_ns_per_call"] for v in ov["pairs"].values() for p in v]
        L.append("")
        L.append(f"Untraced baseline: getppid {statistics.median(allb):.0f} ns, mix {statistics.median(allm):.0f} ns "
                 "per syscall (median of all baseline runs).")
        st = [p.get("agent") for p in ov["pairs"].get("ksight_stream", []) if p.get("agent")]
        if st:
            drops = [((a.get("heartbeat_syscalls") or {}).get("dropped") or 0) for a in st]
            seen = [((a.get("heartbeat_syscalls") or {}).get("seen") or 0) for a in st]
            L.append(f"In the streaming overhead runs the agent saw {statistics.median(seen):.0f} records per run "
                     f"(median) and dropped {statistics.median(drops):.0f} (median; dropped records cost the "
                     "traced process less than delivered ones).")
        L.append("")
    prof = res.get("bpf_profile")
    if prof:
        L.append("## BPF program run time (kernel.bpf_stats_enabled, getppid)")
        L.append("")
        L.append("`run_time_ns / run_cnt` from `bpftool prog show` during one getppid run; bpf_stats itself "
                 "adds some ns per run, so these read higher than the added cost above.")
        L.append("")
        L.append("| configuration | program | ns per run | runs |")
        L.append("|---|---|---|---|")
        for cfg, progs in prof.items():
            for name, v in sorted(progs.items()):
                L.append(f"| {cfg} | {name} | {v['ns_per_run']:.0f} | {v['runs']} |")
        L.append("")
    tp = res.get("throughput")
    if tp:
        L.append("## Streaming throughput")
        L.append("")
        L.append(f"The hammer paced at each rate for {res['machine'].get('throughput_seconds')} s (getppid), ksight "
                 "writing one `syscall` record per call (`--slow 0 --pid HAMMER --interval 1s`) to a file on "
                 "disk; the agent pinned to CPU 0. CPU is the agent's utime + stime over the run; RSS its peak "
                 "(VmHWM).")
        L.append("")
        L.append("| offered rate | hammer calls | delivered | dropped (reason) | agent CPU | CPU per 100k delivered/s | "
                 "peak RSS | bytes/record |")
        L.append("|---|---|---|---|---|---|---|---|")
        for r in tp:
            reasons = ", ".join(f"{k} {v}" for k, v in (r["dropped_by_reason"] or {}).items())
            L.append(f"| {r['achieved_rate'] / 1e6:.2f} M/s (target {r['target_rate'] / 1e6:.1f}) | "
                     f"{r['hammer_calls']} | {r['delivered']} | {r['dropped']}{' (' + reasons + ')' if reasons else ''}"
                     f" | {r['agent_cpu_pct']:.1f} % | {cpu_per_100k(r):.2f} % | "
                     f"{r['rss_peak_mb']:.1f} MB | {r['bytes_per_record']:.0f} |")
        L.append("")
    lc = res.get("lifecycle")
    if lc:
        L.append("## Process lifecycle and workload identity")
        L.append("")
        L.append(f"`proc_trigger -n {lc['spawns_per_run']}` pinned to CPU 1: fork, exec itself, exit 0, wait, "
                 "each; its CPU time includes the children it reaped, where the probe's exec and exit programs "
                 "run. Traced by `ksight run --probes process` (pinned to CPU 0) minus the untraced run just "
                 "before it: median (min–max).")
        L.append("")
        L.append("| | CPU per fork+exec+exit |")
        L.append("|---|---|")
        L.append(f"| untraced | {fmt_stat(lc['baseline_ns'], ' ns')} |")
        L.append(f"| added by the process probe (in the traced processes) | {fmt_stat(lc['added_ns'], ' ns')} "
                 f"({fmt_stat(lc['ratio'], '×', 3)}) |")
        L.append(f"| the agent's own CPU per process (exec + exit records) | {fmt_stat(lc['agent_ns'], ' ns')} |")
        for name, st in lc.get("bpf_ns_per_run", {}).items():
            L.append(f"| BPF program `{name}`, per run (kernel.bpf_stats_enabled) | {fmt_stat(st, ' ns')} |")
        idb = lc.get("identity")
        if idb:
            L.append("")
            L.append("Workload identity per record (`build/ksight_identity_bench`, bench/identity_bench.cc): "
                     f"a cached cgroup id {idb['lookup_cached_ns']:.0f} ns; with writing the `container` and "
                     f"`k8s` objects ({idb['bytes_per_record']} bytes) {idb['lookup_and_write_ns']:.0f} ns; "
                     f"no cgroup {idb['no_cgroup_ns']:.0f} ns; a cgroup v1 host's per-pid cache "
                     f"{idb['v1_pid_cached_ns']:.0f} ns; the first lookup of a new cgroup id (a /proc read "
                     f"and a stat) {idb['first_lookup_ns'] / 1000:.1f} µs, once per cgroup.")
        L.append("")
    su = res.get("startup")
    if su:
        L.append("## Start-up")
        L.append("")
        L.append("Launch of `ksight run` to the timestamp of its `agent.status` `running` record (every selected "
                 "probe attached): median (min–max).")
        L.append("")
        L.append("| probes | start-up |")
        L.append("|---|---|")
        for k, v in su.items():
            L.append(f"| {k.replace('_', ' ')} | {v['median'] * 1000:.0f} ms ({v['min'] * 1000:.0f}–"
                     f"{v['max'] * 1000:.0f}) |")
        L.append("")
    if notes:
        L.append(notes.rstrip())
        L.append("")
    return "\n".join(L)


def read_notes():
    path = os.path.join(ROOT, "bench", "notes.md")
    return open(path).read() if os.path.exists(path) else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs, for development")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--only", help="comma-separated configurations (and skip throughput/start-up)")
    ap.add_argument("--stream-dir", help="where the throughput test writes its file (default: BUILD/bench/tmp)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: overhead,profile,throughput,startup,lifecycle")
    ap.add_argument("--no-docs", action="store_true", help="do not copy a full run's results into docs/")
    ap.add_argument("--report-only", metavar="RESULTS_JSON",
                    help="only regenerate the Markdown next to RESULTS_JSON (e.g. docs/benchmarks.json)")
    args = ap.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            res = json.load(f)
        out = os.path.join(os.path.dirname(os.path.abspath(args.report_only)),
                           "benchmarks.md" if args.report_only.endswith("benchmarks.json") else "report.md")
        with open(out, "w") as f:
            f.write(markdown(res, read_notes()))
        log(f"wrote {out}")
        return
    if os.geteuid() != 0:
        sys.exit("bench: needs root (it loads BPF programs); run: sudo make bench")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs 2 CPUs (the hammer on one, the tracer on the other)")
    args.build = os.path.abspath(args.build)
    args.only = args.only.split(",") if args.only else None
    args.reps = args.reps or (3 if args.quick else 7)
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    args.dur = 0.3 if args.quick else 1.0
    args.tput_dur = 3 if args.quick else 10
    args.rates = [0.5e6, 1.0e6, 1.5e6]
    args.startup_reps = 3 if args.quick else 5
    args.spawns = 300 if args.quick else 2000
    skip = set(args.skip.split(",")) - {""}
    if args.only:
        skip |= {"throughput", "startup", "lifecycle"}

    bench_dir = os.path.join(args.build, "bench")
    tmpdir = os.path.join(bench_dir, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    res = {"machine": machine_info(args)}
    res["machine"]["throughput_seconds"] = args.tput_dur
    t0 = time.monotonic()
    if "overhead" not in skip:
        res["overhead"] = overhead(args, tmpdir)
    if "profile" not in skip:
        res["bpf_profile"] = bpf_profile(args, tmpdir)
    if "throughput" not in skip:
        res["throughput"] = throughput(args, tmpdir)
    if "startup" not in skip:
        res["startup"] = startup(args, tmpdir)
    if "lifecycle" not in skip:
        res["lifecycle"] = lifecycle(args, tmpdir)
    m = res["machine"]
    m["loadavg_end"] = os.getloadavg()
    m["busy"] = max(m["loadavg_start"][0], m["loadavg_end"][0]) > 1.5
    m["bench_seconds"] = round(time.monotonic() - t0, 1)
    res["targets"] = [{"target": n, "measured": v, "met": ok} for n, v, ok in targets(res)]

    md = markdown(res, read_notes())
    with open(os.path.join(bench_dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(os.path.join(bench_dir, "benchmarks.md"), "w") as f:
        f.write(md)
    log(f"done in {m['bench_seconds']} s: {bench_dir}/results.json, {bench_dir}/benchmarks.md")
    if not args.quick and not args.no_docs and not args.only and not skip:
        for src, dst in (("results.json", "benchmarks.json"), ("benchmarks.md", "benchmarks.md")):
            with open(os.path.join(bench_dir, src)) as f, open(os.path.join(ROOT, "docs", dst), "w") as g:
                g.write(f.read())
        log("wrote docs/benchmarks.md and docs/benchmarks.json")
    for n, v, ok in targets(res):
        log(f"{'met ' if ok else 'MISS'} {n}: {v}")


if __name__ == "__main__":
    main()
