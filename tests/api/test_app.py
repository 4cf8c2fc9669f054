"""The app factory: nothing built at import, components built and closed by the lifespan."""

from __future__ import annotations

import httpx

from contact_engine.api.app import create_app


async def test_default_build_serves_health_and_refuses_unsigned_webhooks(settings_for, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(redis_url=redis_url, redis_key_prefix="cet:app:")
    app = create_app(settings)
    assert not hasattr(app.state, "components")  # nothing built before start
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        # Twilio is not configured: no token, so no webhook can be verified.
        resp = await client.post("/twilio/voice/status?attempt=a", data={"CallSid": "CA1", "CallStatus": "ringing"})
        assert resp.status_code == 403
        assert (await client.get("/recordings/pending")).status_code == 503


async def test_default_build_records_stop_in_the_shared_gate(  # type: ignore[no-untyped-def]
    settings_for, database_url: str, redis_url: str, redis_prefix: str, fake_twilio
) -> None:
    import redis.asyncio as aioredis

    from api.conftest import PUBLIC, SignedClient
    from api.test_optout_gate import ACCOUNT, NOW, PHONE, TEXT
    from contact_engine.compliance.gate import Gate
    from contact_engine.store.db import make_engine
    from providers.conftest import twilio_settings

    engine = make_engine(database_url)
    try:
        from contact_engine.store.repositories import AccountRepository

        await AccountRepository(engine).upsert_many([ACCOUNT])
    finally:
        await engine.dispose()
    settings = settings_for(
        database_url=database_url, redis_url=redis_url, redis_key_prefix=redis_prefix,
        twilio=twilio_settings(fake_twilio, public_base_url=PUBLIC),
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        reply = await SignedClient(client).post(
            "/twilio/sms/inbound", {"From": PHONE, "To": "+15005550006", "Body": "STOP", "MessageSid": "SM" + "3" * 32}
        )
        assert reply.status_code == 200
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        gate = await Gate.create(settings.gate, redis=redis, key_prefix=redis_prefix)
        decision = await gate.decide(ACCOUNT, TEXT, NOW)
        assert not decision.allowed and any("OPTOUT" in d.rule for d in decision.denied_by)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
