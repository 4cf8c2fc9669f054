"""``contact-engine demo --json`` end to end, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CONTRACT = {"accounts", "days", "attempts", "outcomes", "denied", "violations", "recordings", "qa",
            "collected_amount"}


def test_demo_json_reports_every_channel_denials_recordings_and_no_violations(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "contact_engine", "demo", "--accounts", "200", "--days", "6", "--seed", "3",
         "--json", "--data-dir", str(work)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report) >= CONTRACT
    assert report["accounts"] == 200 and report["days"] == 6
    assert all(report["attempts"][ch] > 0 for ch in ("sms", "voice", "email")), report["attempts"]
    assert sum(report["denied"].values()) > 0 and report["violations"] == 0
    assert report["recordings"] > 0 and report["recordings_failed"] == 0
    wavs = list((work / "recordings").rglob("*.wav"))
    assert len(wavs) == report["recordings"]
    assert set(report["qa"]) >= {"transcribed", "flagged"}
    assert float(report["collected_amount"]) >= 0
    assert (work / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # a second run wipes its own folder; a foreign non-empty folder is refused, untouched
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "contact_engine", "demo", "--json", "--data-dir", str(foreign)],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert refused.returncode == 2 and "not a demo folder" in refused.stderr
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "x"
