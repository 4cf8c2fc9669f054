"""A real SMTP server on loopback (aiosmtpd) with TLS (STARTTLS or implicit) and AUTH."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER = "mailer"
PASSWORD = "s3cret-pass"


@dataclass
class Mailbox:
    """What the server accepted; recipients at ``refuse_domain`` are refused with 550."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_domain: str = "bounce.example"
    auth_attempts: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address.endswith("@" + self.refuse_domain):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 2.0.0 queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        self.auth_attempts += 1
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TlsPair:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def make_tls() -> TlsPair:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsPair(server, client)


def start_smtp(mailbox: Mailbox, tls: TlsPair, *, implicit: bool) -> Controller:
    """Start the server: implicit TLS, or STARTTLS required; AUTH required after TLS."""
    port = free_port()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": mailbox.authenticate,
        "auth_required": True,
        "auth_require_tls": True,
    }
    if implicit:
        kwargs["ssl_context"] = tls.server
        kwargs["server_hostname"] = "127.0.0.1"
        controller: Controller = _ImplicitTlsController(mailbox, **kwargs)
    else:
        kwargs["tls_context"] = tls.server
        kwargs["require_starttls"] = True
        controller = Controller(mailbox, **kwargs)
    controller.start()
    return controller


class _ImplicitTlsSMTP(SMTP):
    """aiosmtpd counts only STARTTLS as TLS for ``auth_require_tls``; on an implicit-TLS
    socket every byte is encrypted, so AUTH is offered there."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if transport.get_extra_info("sslcontext") is not None:
            self._auth_require_tls = False


class _ImplicitTlsController(Controller):
    def factory(self) -> SMTP:
        return _ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)
