"""The import and accounts commands end to end through the console entry point (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_engine.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONTACT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CONTACT_ENGINE_DATABASE_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        captured = capsys.readouterr()
        return int(info.value.code or 0), captured.out + captured.err

    return invoke


def test_db_upgrade_then_import_and_show_masked(cli) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("db", "upgrade")
    assert code == 0, out
    code, out = cli("import", str(EXAMPLES / "portfolio.csv"))
    assert code == 0, out
    assert "imported 12 accounts" in out
    code, out = cli("accounts", "show", "CC-1001")
    assert code == 0, out
    assert "CC-1001" in out and "+8613800138000" not in out
    code, out = cli("accounts", "show", "CC-1001", "--unmask")
    assert code == 0, out
    assert "+8613800138000" in out


def test_bad_file_prints_every_line_and_exits_1(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "portfolio.csv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([text[0], text[1], text[1]]) + "\n", encoding="utf-8")
    code, out = cli("import", str(bad))
    assert code == 1
    assert "line 3: account_id:" in out
    assert "Traceback" not in out


def test_missing_file_and_unreachable_database_are_one_line(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    code, out = cli("import", str(tmp_path / "absent.csv"))
    assert code != 0
    assert "no such file" in out and len(out.strip().splitlines()) == 1
    monkeypatch.setenv("CONTACT_ENGINE_DATABASE_URL",
                       "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    code, out = cli("accounts", "list")
    assert code != 0
    assert out.startswith("error:") and len(out.strip().splitlines()) == 1, out
