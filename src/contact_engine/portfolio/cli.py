"""Commands: ``import FILE``, ``accounts list``, ``accounts show ID``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contact_engine.cli_support import console, err_console, run
from contact_engine.config import load_settings
from contact_engine.domain import Account, ContactKind
from contact_engine.errors import UserError
from contact_engine.privacy import mask_contact

accounts_app = typer.Typer(help="Inspect imported accounts.", no_args_is_help=True)


def _progress(total: int) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True,
                    disable=total < 5000)


def import_command(
    file: Path = typer.Argument(..., help="Portfolio file: .csv, .json or .jsonl"),
    region: str | None = typer.Option(None, help="Default phone region (e.g. CN, US)."),
) -> None:
    """Import a portfolio file (all or nothing; re-importing updates by account id)."""
    from contact_engine.portfolio.importer import import_accounts, read_portfolio
    from contact_engine.store.db import open_database

    settings = load_settings()
    default_region = (region or settings.imports.default_region).upper()
    size_hint = file.stat().st_size // 150 if file.is_file() else 0
    with _progress(size_hint) as bar:
        task = bar.add_task("validating", total=size_hint or None)
        accts = read_portfolio(file, default_region, lambda n: bar.advance(task, n))
        bar.update(task, description="writing", completed=0, total=len(accts))

        async def write() -> object:
            async with open_database(settings) as engine:
                return await import_accounts(engine, accts, settings.imports.batch_size,
                                             lambda n: bar.advance(task, n))

        result = run(write())
    console.print(f"imported {result.accounts} accounts, {result.parties} parties, "  # type: ignore[attr-defined]
                  f"{result.contact_points} contact points")  # type: ignore[attr-defined]


def _contact(value: str, unmask: bool) -> str:
    return value if unmask else mask_contact(value)


async def _load_list(limit: int) -> list[Account]:
    from contact_engine.store.db import open_database
    from contact_engine.store.repositories import AccountRepository

    out: list[Account] = []
    async with open_database(load_settings()) as engine:
        async for acct in AccountRepository(engine).iter_accounts(batch_size=min(limit, 500)):
            out.append(acct)
            if len(out) >= limit:
                break
    return out


@accounts_app.command("list")
def accounts_list(
    limit: int = typer.Option(50, help="At most this many accounts."),
    unmask: bool = typer.Option(False, help="Show full phone numbers and emails."),
) -> None:
    """List accounts (personal data masked unless --unmask)."""
    accts = run(_load_list(limit))
    today = date.today()
    table = Table(title=f"Accounts / 账户 ({len(accts)} shown)")
    for col in ("id", "product", "balance", "due", "DPD", "status", "holds", "debtor", "phone"):
        table.add_column(col)
    for a in accts:
        debtor = next((p for p in a.parties if p.role.value == "debtor"), None)
        phone = next((c.value for p in a.parties if p is debtor for c in p.contact_points
                      if c.kind is ContactKind.PHONE), "")
        table.add_row(a.id, a.product.value, f"{a.balance} {a.currency}", a.due_date.isoformat(),
                      str(a.days_past_due(today)), a.status.value,
                      ",".join(sorted(h.value for h in a.holds)),
                      (debtor.name or "") if debtor else "", _contact(phone, unmask))
    console.print(table)


@accounts_app.command("show")
def accounts_show(
    account_id: str = typer.Argument(..., help="Account id."),
    unmask: bool = typer.Option(False, help="Show full phone numbers and emails."),
) -> None:
    """Show one account with its parties and contact points."""
    from contact_engine.store.db import open_database
    from contact_engine.store.repositories import AccountRepository

    async def load() -> Account | None:
        async with open_database(load_settings()) as engine:
            return await AccountRepository(engine).get(account_id)

    acct = run(load())
    if acct is None:
        raise UserError(f"account {account_id!r} not found")
    console.print(f"[bold]{acct.id}[/bold]  {acct.product.value}  balance {acct.balance} "
                  f"{acct.currency} (principal {acct.principal})  due {acct.due_date}  "
                  f"status {acct.status.value}  holds "
                  f"{','.join(sorted(h.value for h in acct.holds)) or '-'}")
    addr = acct.address
    console.print(f"address: {addr.country or '-'} {addr.region or ''} {addr.city or ''} "
                  f"{addr.postal_code or ''} tz={addr.timezone or '-'}")
    table = Table(title="Parties / 联系人")
    for col in ("party", "role", "name", "flags", "contact points"):
        table.add_column(col)
    for p in acct.parties:
        flags = [n for n, v in (("sensitive", p.sensitive), ("designated", p.designated_by_debtor),
                                ("attorney", p.represented_by_attorney)) if v]
        flags += [f"opt-out:{c.value}" for c in sorted(p.opt_outs)]
        points = "\n".join(f"{c.kind.value} {_contact(c.value, unmask)} ({c.line_type.value})"
                           for c in p.contact_points)
        table.add_row(p.id, p.role.value, p.name or "", " ".join(flags), points)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.add_typer(accounts_app, name="accounts")
