"""The HTTP interface: Twilio webhooks and a small read API (FastAPI)."""

from contact_engine.api.app import ApiComponents, create_app

__all__ = ["ApiComponents", "create_app"]
