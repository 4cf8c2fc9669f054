"""Import a portfolio file: validate every record first, then write all of it in one
transaction, or nothing at all."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.domain import Account
from contact_engine.errors import ImportRejected, UserError
from contact_engine.portfolio.schema import (
    CSV_COLUMNS,
    REQUIRED_CSV,
    RowError,
    parse_account,
    regroup_csv_row,
)
from contact_engine.store.repositories import AccountRepository

MAX_PROBLEMS = 200  # past this the list is cut, with a count of the rest

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ImportResult:
    accounts: int
    parties: int
    contact_points: int


def _decode(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected([f"line {line}: file: not UTF-8 text (byte {exc.start})"]) from None
    if not text.strip():
        raise ImportRejected(["line 1: file: the file is empty"])
    return text


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_CSV if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(unknown))
        raise ImportRejected([f"line 1: header: {'; '.join(parts)}"])
    for row in reader:
        if None in row:
            raise ImportRejected([f"line {reader.line_num}: row: more cells than columns"])
        yield reader.line_num, regroup_csv_row(row)


def _json_records(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a JSON array or of JSON Lines, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = 0
    n = len(text)

    def skip(p: int) -> int:
        while p < n and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip(pos)
    in_array = pos < n and text[pos] == "["
    if in_array:
        pos = skip(pos + 1)
    while pos < n:
        if in_array and text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportRejected([f"line {exc.lineno}: json: {exc.msg}"]) from None
        if not isinstance(obj, dict):
            raise ImportRejected([f"line {line}: record: each record must be a JSON object"])
        yield line, obj
        pos = skip(end)
        if in_array and pos < n and text[pos] == ",":
            pos = skip(pos + 1)
        elif in_array and pos < n and text[pos] != "]":
            raise ImportRejected([f"line {text.count(chr(10), 0, pos) + 1}: json: expected , or ]"])


def read_portfolio(path: Path, default_region: str,
                   progress: Progress | None = None) -> list[Account]:
    """Parse and validate the whole file; raise ImportRejected listing every problem."""
    text = _decode(path)
    fmt = "json" if path.suffix.lower() in (".json", ".jsonl", ".ndjson") else "csv"
    records = _json_records(text) if fmt == "json" else _csv_records(text)
    problems: list[str] = []
    seen: dict[str, int] = {}
    out: list[Account] = []
    count = 0
    for line, record in records:
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(1000)
        try:
            acct = parse_account(record, default_region)
        except RowError as err:
            problems.append(f"line {line}: {err.field}: {err.problem}")
            continue
        first = seen.get(acct.id)
        if first is not None:
            problems.append(
                f"line {line}: account_id: {acct.id!r} duplicates the account on line {first}")
            continue
        seen[acct.id] = line
        out.append(acct)
    if count == 0:
        problems.append("line 2: file: no records after the header" if fmt == "csv"
                        else "line 1: file: no records")
    if problems:
        if len(problems) > MAX_PROBLEMS:
            rest = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [f"... and {rest} more problem(s)"]
        raise ImportRejected(problems)
    return out


async def import_accounts(engine: AsyncEngine, accounts: list[Account], batch_size: int = 2000,
                          progress: Progress | None = None) -> ImportResult:
    """Upsert every account in ONE transaction: all or nothing."""
    repo = AccountRepository(engine)
    async with engine.begin() as conn:
        for start in range(0, len(accounts), batch_size):
            chunk = accounts[start:start + batch_size]
            await repo.upsert_many(chunk, conn=conn, batch_size=batch_size)
            if progress is not None:
                progress(len(chunk))
    parties = sum(len(a.parties) for a in accounts)
    points = sum(len(p.contact_points) for a in accounts for p in a.parties)
    return ImportResult(len(accounts), parties, points)
