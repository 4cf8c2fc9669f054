"""The error tree of contact-engine.

Expected outcomes (a gate denial, a busy line) are values, not exceptions. Exceptions are
for things that went wrong; each carries an :class:`ErrorCategory` saying whether a retry
can help.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    """Whether retrying the failed operation can help."""

    RETRYABLE = "retryable"  # transient: timeouts, 5xx, rate limits
    PERMANENT = "permanent"  # the request itself is wrong: bad number, auth, 4xx
    UNKNOWN = "unknown"  # the outcome is unknown: the provider may have acted


class ContactEngineError(Exception):
    """Base class of every error this package raises on purpose."""

    category: ErrorCategory = ErrorCategory.PERMANENT


class UserError(ContactEngineError):
    """A problem the user can fix; the CLI prints its message as one line, no traceback."""


class ConfigError(UserError):
    """Invalid or incomplete configuration."""


class ServiceUnavailableError(UserError):
    """A required service (database, Redis) cannot be reached."""

    category = ErrorCategory.RETRYABLE


class ValidationProblem(UserError):
    """Malformed input; ``field`` names where the problem is."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ImportRejected(UserError):
    """A portfolio file had bad rows; nothing was imported.

    ``problems`` holds one ``line N: field: problem`` string per problem.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing imported")
        self.problems = problems


class PolicyError(ConfigError):
    """A policy pack is invalid (the message names file and line)."""


class ProviderError(ContactEngineError):
    """A provider (Twilio, SMTP) refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory,
        code: str | None = None,
        accepted: bool = False,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.code = code
        # True when the provider may already have acted (the reservation must not be released).
        self.accepted = accepted
