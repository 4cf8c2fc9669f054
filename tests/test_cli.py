"""The command line as a user meets it: one clear line on errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_ENGINE_")}
    full_env.update({"CONTACT_ENGINE_DATA_DIR": str(tmp_path / "var"), **env})
    return subprocess.run([sys.executable, "-m", "contact_engine.cli", *args], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, timeout=120)


def test_help_lists_commands(tmp_path: Path) -> None:
    out = cli(tmp_path, "--help")
    assert out.returncode == 0
    for name in ("import", "accounts", "db"):
        assert name in out.stdout


def test_import_then_list_masks_personal_data(tmp_path: Path) -> None:
    imp = cli(tmp_path, "import", str(ROOT / "examples" / "portfolio.csv"))
    assert imp.returncode == 0, imp.stderr
    assert "imported 12 accounts" in imp.stdout
    shown = cli(tmp_path, "accounts", "show", "CC-1001")
    assert shown.returncode == 0, shown.stderr
    assert "13800138000" not in shown.stdout and "8000" in shown.stdout
    assert "zhang.wei@" not in shown.stdout and "@example.cn" in shown.stdout
    unmasked = cli(tmp_path, "accounts", "show", "CC-1001", "--unmask")
    assert "+8613800138000" in unmasked.stdout


def test_bad_file_lists_problems_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,product\nA1,loan\n", encoding="utf-8")
    out = cli(tmp_path, "import", str(bad))
    assert out.returncode == 1
    assert out.stderr.splitlines()[0].startswith("line 1: header: missing column(s)")
    assert "Traceback" not in out.stderr


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    out = cli(tmp_path, "import", "nope.csv")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: nope.csv: no such file"


def test_unreachable_database_is_one_line_without_password(tmp_path: Path) -> None:
    out = cli(tmp_path, "accounts", "list",
              CONTACT_ENGINE_DATABASE_URL="postgresql+asyncpg://u:hunter2@127.0.0.1:9/x")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database")
    assert "hunter2" not in out.stderr and "***" in out.stderr


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    code = ("import asyncio\nfrom contact_engine.config import Settings\n"
            "from contact_engine.store.redis import open_redis\n"
            "async def go():\n"
            "    async with open_redis(Settings(redis_url='redis://:pw@127.0.0.1:9/0')):\n"
            "        pass\n"
            "asyncio.run(go())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "cannot reach Redis at redis://:***@127.0.0.1:9/0" in out.stderr
