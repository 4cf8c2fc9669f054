"""``contact-engine demo``: a simulated month of the whole engine, with its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from contact_engine.cli_support import err_console, run


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    accounts: int = typer.Option(2000, "--accounts", min=1, help="Accounts to generate."),
    days: int = typer.Option(30, "--days", min=1, max=366, help="Simulated days."),
    seed: int = typer.Option(7, "--seed", help="Seed of the portfolio and the simulated outcomes."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (CONTRACTS.md)."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here "
                                     "(default: report.html in the working folder)."),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Synthesise call recordings."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Working folder (default var/demo); an earlier demo's folder is wiped, any other non-empty folder is refused."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes, each running a shard of the accounts (default: one per core, at most 4; 1: one process)."),
) -> None:
    """Run the engine for a simulated month on a generated portfolio. / 模拟运行一个月的催收活动。"""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from contact_engine.config import load_settings
    from contact_engine.demo.run import default_workers, run_demo

    base = data_dir or (load_settings().data_dir / "demo")
    labels = {"import": "Importing accounts / 导入账户", "days": "Simulating days / 模拟天数",
              "audit": "Auditing / 合规审计"}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, transient=as_json) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = run(run_demo(accounts=accounts, days=days, seed=seed, data_dir=base, audio=audio,
                              progress=progress, workers=workers or default_workers()),
                     long_running=True)
    from contact_engine.cli_support import console
    from contact_engine.demo.report import render_console, write_html

    out = html or base / "report.html"
    write_html(report, out)
    report["html_report"] = str(out)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        render_console(report, console)
        console.print(f"HTML report / 报告: {out}")
    if report["violations"]:
        raise typer.Exit(1)
