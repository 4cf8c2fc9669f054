"""Commands: ``gate check`` and ``gate why``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer

from contact_engine.cli_support import console, run
from contact_engine.config import load_settings
from contact_engine.errors import UserError, ValidationProblem

gate_app = typer.Typer(help="Ask the compliance gate.", no_args_is_help=True)


@gate_app.command("check")
def gate_check(
    file: Path | None = typer.Option(None, "--file", help="JSON input (stdin when absent)."),
) -> None:
    """Decide one proposed attempt against packs and a history (CONTRACTS.md); exit 0."""
    from contact_engine.compliance.check import run_check

    if file is not None and not file.is_file():
        raise ValidationProblem("--file", f"{file}: no such file")
    text = file.read_text(encoding="utf-8") if file is not None else sys.stdin.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationProblem("input", f"not JSON: {exc.msg} at line {exc.lineno}") from None
    settings = load_settings()
    result = run(run_check(doc, settings.gate.policy_dir))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@gate_app.command("why")
def gate_why(
    account_id: str = typer.Argument(..., help="Account id."),
    day: str = typer.Option(..., "--date", help="Local date YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Why was this account (not) contacted on that day: every stored decision."""
    from contact_engine.compliance.timezones import address_zones
    from contact_engine.store.db import open_database
    from contact_engine.store.repositories import AccountRepository, AuditRepository

    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise UserError(f"--date: {day!r} is not a date (YYYY-MM-DD)") from None

    async def load() -> list[dict[str, Any]]:
        async with open_database(load_settings()) as engine:
            acct = await AccountRepository(engine).get(account_id)
            if acct is None:
                raise UserError(f"account {account_id!r} not found")
            zones = address_zones(acct.address.country, acct.address.region, acct.address.timezone)
            return await AuditRepository(engine).decisions_for(account_id, d, zones[0] if zones else "UTC")

    rows = run(load())
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print(f"no decisions on {account_id} on {d}: the account was not planned that day")
        return
    for r in rows:
        verdict = "[green]allowed[/green]" if r["allowed"] else "[red]denied[/red]"
        rules = "; ".join(f"{x['rule']}: {x['reason']}" for x in r["denied_by"]) or "-"
        console.print(f"{r['at']:%Y-%m-%d %H:%M}Z {r['channel']:5} {verdict}  {rules}  "
                      f"packs {r['policy_versions']}")


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
