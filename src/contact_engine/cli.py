"""The ``contact-engine`` command.

Each component contributes its commands from its own ``cli`` module; this file wires them
and turns user errors into one clear line on stderr (no tracebacks) and a non-zero exit.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from contact_engine import __version__
from contact_engine.cli_support import run
from contact_engine.config import load_settings
from contact_engine.errors import ImportRejected, UserError

app = typer.Typer(
    name="contact-engine",
    help="Compliant contact orchestration for debt collection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply database migrations (SQLite in the data folder unless DATABASE_URL is set)."""
    from contact_engine.config import redact_url
    from contact_engine.store.db import check_connection, make_engine, upgrade

    settings = load_settings()
    url = settings.effective_database_url

    async def go() -> None:
        from contact_engine.store.db import _prepare_sqlite_dir

        _prepare_sqlite_dir(url)
        engine = make_engine(url)
        try:
            await check_connection(engine, url)
        finally:
            await engine.dispose()
        await upgrade(url, revision)

    run(go())
    typer.echo(f"database at {redact_url(url)} is at revision {revision}")


# Component command modules; each exposes ``register(app)``.
COMMAND_MODULES = (
    "contact_engine.portfolio.cli",
    "contact_engine.compliance.cli",
    "contact_engine.campaigns.cli",
    "contact_engine.qa.cli",
    "contact_engine.api.cli",
    "contact_engine.demo.cli",
    "contact_engine.processes",
)

_registered = False


def register_all() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # That component (or its package) has no commands yet; a missing dependency
            # inside it is a real error and is raised.
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    register_all()
    try:
        result = app(args=argv, prog_name="contact-engine", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ImportRejected as exc:
        for line in exc.problems:
            typer.echo(line, err=True)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
