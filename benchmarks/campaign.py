"""Benchmark: the default campaign over N accounts for D simulated days (default 100,000 x 30).

Runs the demo's engine path on embedded defaults (SQLite and the embedded Redis in a
temporary folder, the simulated provider, no call audio) and prints wall time (import and
simulation), attempts per second and peak memory: this process's peak RSS and the
embedded redis-server's. With ``--audit`` the independent auditor runs after, timed apart.
Asserts nothing.

    .venv/bin/python benchmarks/campaign.py [--accounts 100000] [--days 30] [--audio] [--audit]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from contact_engine.demo.run import demo_settings, run_demo


def _mib(kib: int) -> float:
    return kib / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--audio", action="store_true", help="synthesise call recordings too")
    parser.add_argument("--audit", action="store_true", help="run the independent auditor after (timed apart)")
    args = parser.parse_args()
    last = [time.perf_counter()]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "days" or done == total:
            print(f"  {stage} {done}/{total}  (+{now - last[0]:.1f} s)", file=sys.stderr, flush=True)
            last[0] = now

    with tempfile.TemporaryDirectory(prefix="ce-bench-") as tmp:
        data = Path(tmp) / "var"
        settings = demo_settings(data)
        t0 = time.perf_counter()
        report = await run_demo(accounts=args.accounts, days=args.days, seed=args.seed, data_dir=data,
                                audio=args.audio, progress=progress, settings=settings, check=args.audit)
        wall = time.perf_counter() - t0
    attempts = sum(report["attempts"].values())
    print(f"accounts                {args.accounts:,}")
    print(f"simulated days          {args.days}")
    print(f"attempts                {attempts:,}  {report['attempts']}")
    print(f"intents                 {report['intents']}")
    print(f"denials                 {sum(report['denied'].values()):,}")
    print(f"violations              {report['violations'] if args.audit else 'not audited (--audit)'}")
    campaign_s = wall - report["timing"]["audit_s"]
    sim_s = report["timing"]["simulation_s"]
    print(f"wall time               {campaign_s:.1f} s  (simulation {sim_s:.1f} s, import and setup "
          f"{campaign_s - sim_s:.1f} s)" + (f"; audit {report['timing']['audit_s']:.1f} s more" if args.audit else ""))
    print(f"attempts per second     {attempts / campaign_s:,.0f}  (simulation only: {report['timing']['attempts_per_s']:,.0f})")
    print(f"peak RSS, this process  {_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss):.0f} MiB")
    print(f"peak RSS, children      {_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss):.0f} MiB "
          "(embedded redis-server)")


if __name__ == "__main__":
    asyncio.run(main())
