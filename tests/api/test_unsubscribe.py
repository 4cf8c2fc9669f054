"""Email unsubscribe links: signed, confirm on GET, record on POST (one-click)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from contact_engine.api.app import ApiComponents, create_app
from contact_engine.api.optout import gate_email_opt_out_recorder
from contact_engine.channels.email.unsubscribe import unsubscribe_link
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.config import Settings, SmtpSettings
from contact_engine.domain import (
    Account,
    Channel,
    ContactKind,
    ContactPoint,
    HistoryEntry,
    Outcome,
    Party,
    Role,
)

SECRET = "unsub-secret"


class GateDouble:
    """Stands in for ``compliance.Gate`` (built by another engineer at the same time)."""

    def __init__(self) -> None:
        self.records: list[HistoryEntry] = []

    async def record(self, account: Account, entry: HistoryEntry) -> None:
        self.records.append(entry)


ACCOUNT = Account(
    id="A1",
    due_date=date(2026, 1, 1),
    parties=(
        Party(
            id="A1/p1", role=Role.DEBTOR,
            contact_points=(ContactPoint(party_id="A1/p1", kind=ContactKind.EMAIL, value="zhang@example.com"),),
        ),
    ),
)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, GateDouble]]:
    gate = GateDouble()

    async def get_account(account_id: str) -> Account | None:
        return ACCOUNT if account_id == "A1" else None

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        return ApiComponents(
            settings=settings, sink=_ignore, state=MemoryTwilioState(),
            email_opt_out=gate_email_opt_out_recorder(gate, get_account),
        )

    settings = Settings(
        data_dir=tmp_path,
        smtp=SmtpSettings(host="h", from_address="a@lender.example", unsubscribe_base_url="https://lender.example/unsubscribe",
                          unsubscribe_secret=SecretStr(SECRET)),
    )
    app = create_app(settings, build=build)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="https://lender.example") as c:
        yield c, gate


async def _ignore(report: object) -> None:
    raise AssertionError("no provider reports expected")


async def test_get_confirms_post_records(client: tuple[httpx.AsyncClient, GateDouble]) -> None:
    http, gate = client
    link = unsubscribe_link("https://lender.example/unsubscribe", SECRET, "A1/p1", "em-1")
    page = await http.get(link)
    assert page.status_code == 200 and "<form method=\"post\"" in page.text and gate.records == []
    done = await http.post(link, content="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Unsubscribed".lower() in done.text.lower()
    [entry] = gate.records
    assert (entry.channel, entry.outcome, entry.party_id, entry.contact_point) == (
        Channel.EMAIL, Outcome.OPT_OUT, "A1/p1", "zhang@example.com"
    )
    assert isinstance(entry.at, datetime)


@pytest.mark.parametrize(
    ("party", "token_party"),
    [("A1/p1", "A1/p2"), ("A1/p2", "A1/p1")],
)
async def test_forged_links_are_refused(client: tuple[httpx.AsyncClient, GateDouble], party: str, token_party: str) -> None:
    http, gate = client
    good = unsubscribe_link("https://lender.example/unsubscribe", SECRET, token_party, "em-1")
    token = good.rpartition("token=")[2]
    resp = await http.post("/unsubscribe", params={"party": party, "attempt": "em-1", "token": token})
    assert resp.status_code == 403 and gate.records == []
    other_secret = unsubscribe_link("https://lender.example/unsubscribe", "guess", party, "em-1")
    assert (await http.post(other_secret)).status_code == 403
    assert (await http.post("/unsubscribe", params={"party": party})).status_code == 400
    assert gate.records == []
