"""Benchmark: import N accounts with 2 contact points each (default 100,000).

Generates a CSV portfolio, then times validation and the all-or-nothing write, on SQLite in
a temporary data folder (or ``--database-url``). Prints the figures; asserts nothing.

    .venv/bin/python benchmarks/import_portfolio.py [--accounts 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

from contact_engine import runtime
from contact_engine.portfolio.importer import import_accounts, read_portfolio
from contact_engine.store.db import make_engine, upgrade

HEADER = ["account_id", "product", "principal", "balance", "currency", "due_date", "country",
          "region", "debtor_name", "debtor_phone", "debtor_email"]


def generate(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(n):
            w.writerow([f"B{i:07d}", "credit_card", "10000.00", f"{1000 + i % 9000}.50", "CNY",
                        f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}", "CN", "Shanghai",
                        f"客户{i}", f"+86139{i:08d}", f"c{i}@example.cn"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "portfolio.csv"
        generate(csv_path, args.accounts)
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await upgrade(url)
        engine = make_engine(url)
        try:
            t0 = time.perf_counter()
            accounts = read_portfolio(csv_path, "CN")
            t1 = time.perf_counter()
            result = await import_accounts(engine, accounts)
            t2 = time.perf_counter()
        finally:
            await engine.dispose()
    total = t2 - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"backend            {url.split(':', 1)[0]}")
    print(f"accounts           {result.accounts}")
    print(f"contact points     {result.contact_points}")
    print(f"validate           {t1 - t0:.1f} s")
    print(f"write              {t2 - t1:.1f} s")
    print(f"total              {total:.1f} s  ({result.accounts / total:,.0f} accounts/s)")
    print(f"peak memory        {peak_mb:.0f} MB")


if __name__ == "__main__":
    runtime.run(main())
