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
