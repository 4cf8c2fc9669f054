"""Benchmark: the default campaign over N accounts for D simulated days (default 100,000 x 30).

Runs the demo's engine path on embedded defaults (SQLite and the embedded Redis in a
temporary folder, the simulated provider, no call audio) and prints wall time (import and
simulation), attempts per second and peak memory. ``--workers N`` (default: one per core)
splits the accounts into N shards run by N processes (``contact_engine.shards``); with 1
the simulation runs in this process. Memory is the peak of the summed RSS of this process
and all its children (shard processes, the embedded redis-server), sampled every 0.2 s;
CPU time is theirs too (user and system seconds, from the kernel's accounting).
With ``--audit`` the independent auditor runs after, timed apart. Asserts nothing.

The machine's speed varies (shared, virtual): a fixed pure-Python loop is timed before and
after the run and printed as a reference, so that runs of different hours can be compared.
The loop fits in a core's cache and misses some of the variance; the run's CPU time, for
the same work every run, shows the rest (more seconds for the same work: a slower machine).

    .venv/bin/python benchmarks/campaign.py [--accounts 100000] [--days 30] [--workers N] [--audio] [--audit]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from contact_engine import runtime
from contact_engine.demo.run import demo_settings, run_demo


def _mib(kib: int) -> float:
    return kib / 1024


def _children(pid: int) -> list[int]:
    """Child pids of ``pid`` (from each of its threads' ``children`` file)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                out += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
    return out


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_kib(root: int) -> int:
    """Summed resident set size (KiB) of ``root`` and its descendants, read from /proc
    (only the tree's own entries: scanning every process would tax the run it measures;
    ``statm`` rather than ``status``: the kernel fills it without the rest of the status)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += _children(pid)
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * _PAGE_KIB
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakMemory(threading.Thread):
    """Samples the process tree's summed RSS until stopped; ``peak_kib`` is the highest."""

    def __init__(self, interval_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(os.getpid()))
            self._stop_event.wait(self.interval_s)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kib


def _cpu_s() -> tuple[float, float]:
    """User and system CPU seconds of this process and its children that have ended."""
    mine, theirs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + theirs.ru_utime, mine.ru_stime + theirs.ru_stime


def reference_loop_s(n: int = 3_000_000) -> float:
    """Seconds for a fixed pure-Python loop on one core (the best of three): the machine's
    speed at the moment, as a reference for the run's figures."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        x = 0
        for i in range(n):
            x += i * i % 7
        best = min(best, time.perf_counter() - t)
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="shard processes (default: one per core; 1: run in this process)")
    parser.add_argument("--audio", action="store_true", help="synthesise call recordings too")
    parser.add_argument("--audit", action="store_true", help="run the independent auditor after (timed apart)")
    args = parser.parse_args()
    reference_before = reference_loop_s()
    cpu_before = _cpu_s()
    last = [time.perf_counter()]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "days" or done == total:
            print(f"  {stage} {done}/{total}  (+{now - last[0]:.1f} s)", file=sys.stderr, flush=True)
            last[0] = now

    with tempfile.TemporaryDirectory(prefix="ce-bench-") as tmp:
        data = Path(tmp) / "var"
        settings = demo_settings(data)
        memory = PeakMemory()
        memory.start()
        t0 = time.perf_counter()
        report = await run_demo(accounts=args.accounts, days=args.days, seed=args.seed, data_dir=data,
                                audio=args.audio, progress=progress, settings=settings, check=args.audit,
                                workers=args.workers)
        wall = time.perf_counter() - t0
        peak_kib = memory.stop()
    cpu_user, cpu_sys = (after - before for after, before in zip(_cpu_s(), cpu_before, strict=True))
    reference_after = reference_loop_s()
    attempts = sum(report["attempts"].values())
    print(f"accounts                {args.accounts:,}")
    print(f"simulated days          {args.days}")
    print(f"workers                 {args.workers}  (event loop: {runtime.loop_name()})")
    print(f"attempts                {attempts:,}  {report['attempts']}")
    print(f"intents                 {report['intents']}")
    print(f"denials                 {sum(report['denied'].values()):,}")
    print(f"violations              {report['violations'] if args.audit else 'not audited (--audit)'}")
    campaign_s = wall - report["timing"]["audit_s"]
    sim_s = report["timing"]["simulation_s"]
    merge_s = report["timing"]["merge_s"]
    print(f"wall time               {campaign_s:.1f} s  (simulation {sim_s:.1f} s, shard rows merged {merge_s:.1f} s, "
          f"import and setup {campaign_s - sim_s - merge_s:.1f} s)"
          + (f"; audit {report['timing']['audit_s']:.1f} s more" if args.audit else ""))
    print(f"attempts per second     {attempts / campaign_s:,.0f}  (simulation only: {report['timing']['attempts_per_s']:,.0f})")
    print(f"peak memory, all        {_mib(peak_kib):.0f} MiB  (summed RSS of this process and its children, "
          "sampled)")
    print(f"CPU time                {cpu_user:.1f} s user + {cpu_sys:.1f} s system  (this process and its "
          "children, all cores)")
    print(f"peak RSS, this process  {_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss):.0f} MiB")
    print(f"peak RSS, largest child {_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss):.0f} MiB "
          "(a shard process or the embedded redis-server)")
    print(f"machine reference       {reference_before:.2f} s before, {reference_after:.2f} s after  (a fixed "
          "Python loop on one core, best of 3; lower is faster)")


if __name__ == "__main__":
    runtime.run(main(), long_running=True)
