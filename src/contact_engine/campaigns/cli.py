"""``contact-engine campaigns list|show|add|pause|resume|edit``."""

from __future__ import annotations

import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import typer

from contact_engine.cli_support import run
from contact_engine.config import load_settings

T = TypeVar("T")

campaigns_app = typer.Typer(help="Campaigns: list, show, add, pause, resume, edit. / 催收活动管理。",
                            no_args_is_help=True)


def _with_store(fn: Callable[..., Awaitable[T]]) -> T:
    from contact_engine.campaigns.store import CampaignStore
    from contact_engine.store.db import open_database

    async def go() -> T:
        async with open_database(load_settings()) as engine:
            return await fn(CampaignStore(engine))

    return run(go())


def _read(file: Path) -> str:
    from contact_engine.campaigns.model import CampaignError

    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(f"{file}: cannot read: {exc.strerror}") from None


@campaigns_app.command("list")
def list_command() -> None:
    """List campaigns with version and status."""
    for row in _with_store(lambda s: s.list()):
        typer.echo(f"{row['id']}\tv{row['version']}\t{row['status']}")


@campaigns_app.command("show")
def show_command(campaign_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Print a campaign's current YAML."""
    _campaign, source, status = _with_store(lambda s: s.get(campaign_id))
    typer.echo(f"# status: {status}")
    typer.echo(source.rstrip())


@campaigns_app.command("add")
def add_command(file: Path = typer.Argument(..., help="Campaign YAML.")) -> None:
    """Store a campaign (a new version if the id exists)."""
    text = _read(file)
    c = _with_store(lambda s: s.save(text, actor=getpass.getuser(), at=datetime.now(UTC), source=str(file)))
    typer.echo(json.dumps({"id": c.id, "version": c.version}))


@campaigns_app.command("edit")
def edit_command(campaign_id: str = typer.Argument(..., metavar="ID"),
                 file: Path = typer.Argument(..., help="New campaign YAML.")) -> None:
    """Replace a campaign; an invalid file is refused and the old version stays active."""
    text = _read(file)
    c = _with_store(lambda s: s.edit(campaign_id, text, actor=getpass.getuser(), at=datetime.now(UTC)))
    typer.echo(f"{c.id} is now version {c.version}")


@campaigns_app.command("pause")
def pause_command(campaign_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Pause a campaign."""
    _with_store(lambda s: s.set_status(campaign_id, "paused", actor=getpass.getuser(), at=datetime.now(UTC)))
    typer.echo(f"{campaign_id} paused")


@campaigns_app.command("resume")
def resume_command(campaign_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Resume a paused campaign."""
    _with_store(lambda s: s.set_status(campaign_id, "active", actor=getpass.getuser(), at=datetime.now(UTC)))
    typer.echo(f"{campaign_id} resumed")


def register(app: typer.Typer) -> None:
    """Add the campaign commands to the ``contact-engine`` app."""
    app.add_typer(campaigns_app, name="campaigns")
