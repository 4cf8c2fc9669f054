"""Every Redis key the Twilio adapters and webhooks use, in one place."""

from __future__ import annotations


class TwilioKeys:
    """Key names under one prefix (``settings.redis_key_prefix``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def call_context(self, attempt_id: str) -> str:
        """JSON of the :class:`CallContext` of one attempt (script, language, voicemail)."""
        return f"{self.prefix}twilio:ctx:{attempt_id}"

    def seen(self, dedupe_key: str) -> str:
        """Set once per callback (CallSid+CallStatus, MessageSid+status, RecordingSid)."""
        return f"{self.prefix}twilio:seen:{dedupe_key}"

    def rank(self, provider_ref: str) -> str:
        """The highest status rank reached by a call or message (statuses never go back)."""
        return f"{self.prefix}twilio:rank:{provider_ref}"

    def answered_by(self, call_sid: str) -> str:
        """The AMD result of a call (human, machine_end_beep, ...)."""
        return f"{self.prefix}twilio:amd:{call_sid}"
