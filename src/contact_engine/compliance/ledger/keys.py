"""Every Redis key name of the gate. All keys of one account share the hash tag
``{account}`` so one Lua script can touch them on Redis Cluster too."""

from __future__ import annotations


class GateKeys:
    def __init__(self, prefix: str) -> None:
        self.p = prefix + "g:"

    def account_prefix(self) -> str:
        """Every key of an account is ``account_prefix() + account + tail``."""
        return self.p + "{"

    def count_parts(self, rule: str) -> tuple[str, str]:
        """``count(account, rule, key, day)`` is ``account_prefix() + account + mid + key
        + end + day`` for the returned ``(mid, end)`` (for building many keys fast)."""
        return f"}}:c:{rule}:", ":"

    def reach_parts(self, kind: str) -> tuple[str, str]:
        """``reach(account, kind, day)`` is ``account_prefix() + account + mid + end + day``
        (no key between: the debtor's reach is the account's)."""
        return f"}}:r:{kind}:", ""

    def count(self, account: str, rule: str, key: str, day: int | str) -> str:
        """A counter bucket of ``rule`` for ``key`` on local ``day`` (yyyymmdd or "ever")."""
        return f"{self.p}{{{account}}}:c:{rule}:{key}:{day}"

    def reach(self, account: str, kind: str, day: int) -> str:
        """The debtor's unanswered ("u") / connected ("c") voice attempts on ``day``."""
        return f"{self.p}{{{account}}}:r:{kind}:{day}"

    def flags(self, account: str) -> str:
        """The hash of an account's stop, opt-out, hold and cooldown flags; each field is
        "p" (permanent) or the epoch second at which it lapses."""
        return f"{self.p}{{{account}}}:flags"

    def inflight(self, account: str) -> str:
        return f"{self.p}{{{account}}}:inflight"

    def reservation(self, account: str, reservation_id: str) -> str:
        return f"{self.p}{{{account}}}:res:{reservation_id}"
