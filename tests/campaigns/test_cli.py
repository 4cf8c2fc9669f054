"""The campaigns CLI end to end (a subprocess, SQLite in a temp data folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contact_engine.campaigns.model import DEFAULT_CAMPAIGN


def _ce(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTACT_ENGINE_DATA_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    env.pop("CONTACT_ENGINE_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "contact_engine.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_add_edit_refused_pause(tmp_path: Path) -> None:
    assert _ce(tmp_path, "campaigns", "add", str(DEFAULT_CAMPAIGN)).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: default\nsteps: []\n", encoding="utf-8")
    refused = _ce(tmp_path, "campaigns", "edit", "default", str(bad))
    assert refused.returncode == 2 and "steps" in refused.stderr
    good = tmp_path / "good.yaml"
    good.write_text(DEFAULT_CAMPAIGN.read_text(encoding="utf-8").replace('"10:30"', '"11:15"'), encoding="utf-8")
    assert "version 2" in _ce(tmp_path, "campaigns", "edit", "default", str(good)).stdout
    assert _ce(tmp_path, "campaigns", "pause", "default").returncode == 0
    assert _ce(tmp_path, "campaigns", "list").stdout.split() == ["default", "v2", "paused"]
    assert "11:15" in _ce(tmp_path, "campaigns", "show", "default").stdout
