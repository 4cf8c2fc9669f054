"""An inbound STOP through the webhook reaches the real compliance gate: texts are denied."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime

import httpx

from api.conftest import Recorder, SignedClient
from contact_engine.api.app import ApiComponents, create_app
from contact_engine.api.optout import gate_opt_out_recorder
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.compliance.gate import Gate
from contact_engine.compliance.ledger.memory import MemoryLedger
from contact_engine.compliance.policy import load_packs
from contact_engine.config import Settings
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    ContactKind,
    ContactPoint,
    Mode,
    Party,
    Role,
)

PHONE = "+8613800138000"
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ACCOUNT = Account(
    id="A1", due_date=date(2026, 2, 1), address=Address(country="CN"),
    parties=(Party("A1/debtor", Role.DEBTOR, contact_points=(ContactPoint("A1/debtor", ContactKind.PHONE, PHONE),)),),
)
TEXT = AttemptRequest(Channel.SMS, Mode.AUTOMATED, "A1/debtor", PHONE, account_id="A1")


async def test_stop_reply_denies_further_texts(app_settings: Settings) -> None:
    gate = Gate(load_packs(["cn-agency-code", "cn-cba-2026"]), MemoryLedger(), "cet:gate:")

    async def find(phone: str) -> Sequence[Account]:
        return [ACCOUNT] if phone == PHONE else []

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        return ApiComponents(settings=settings, sink=Recorder().sink, state=MemoryTwilioState(),
                             opt_out=gate_opt_out_recorder(gate, find))

    before = await gate.decide(ACCOUNT, TEXT, NOW)
    assert before.allowed, before.denied_by
    app = create_app(app_settings, build=build)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://internal") as c:
        reply = await SignedClient(c).post(
            "/twilio/sms/inbound", {"From": PHONE, "To": "+15005550006", "Body": "退订", "MessageSid": "SM" + "2" * 32}
        )
    assert reply.status_code == 200 and "<Message>" in reply.text
    after = await gate.decide(ACCOUNT, TEXT, NOW)
    assert not after.allowed
    assert {d.rule for d in after.denied_by} >= {"CN-OPTOUT", "CBA-OPTOUT"}
    # Only texts: the opt-out is per medium.
    call = AttemptRequest(Channel.VOICE, Mode.AUTOMATED, "A1/debtor", PHONE, account_id="A1")
    assert not any("OPTOUT" in d.rule for d in (await gate.decide(ACCOUNT, call, NOW)).denied_by)
