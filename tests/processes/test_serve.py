"""``contact-engine serve`` on embedded defaults: one embedded Redis shared by the
scheduler, the workers and the API; Ctrl-C stops it cleanly, with nothing left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_ENGINE_")}
    env["CONTACT_ENGINE_DATA_DIR"] = str(tmp_path / "var")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "contact_engine", "serve", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.3)
        time.sleep(2.0)  # workers and the scheduler run a few passes
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "leading" in out and "leadership lost" not in out
    assert "Traceback" not in out, out[-3000:]
    assert "run on the simulated provider" in out  # no credentials: it says so
    sock = tmp_path / "var" / "redis" / "redis.sock"
    assert not sock.exists()  # the embedded server stopped with the engine


def test_a_second_process_on_the_same_embedded_redis_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_ENGINE_")}
    env["CONTACT_ENGINE_DATA_DIR"] = str(tmp_path / "var")
    first = subprocess.Popen([sys.executable, "-m", "contact_engine", "worker"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        sock = tmp_path / "var" / "redis" / "redis.sock"
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.0)
        second = subprocess.run([sys.executable, "-m", "contact_engine", "scheduler"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "in use by another contact-engine process" in second.stderr
        assert first.poll() is None  # the first one still runs, its server untouched
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert first.returncode == 0
