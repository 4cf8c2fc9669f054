"""A local Twilio REST server that checks every request against Twilio's OpenAPI document.

This is a real HTTP server on loopback (aiohttp); the adapters reach it through
twilio-python's own asynchronous client with ``api.base_url`` pointed here. A request the
document does not allow (unknown path or method, bad path parameter, missing or unknown
form parameter, a value outside an enum, missing or wrong Basic auth) is answered with a
400 and recorded in :attr:`FakeTwilio.violations`; the fixture fails the test when any
were recorded.

The document does not describe recording media (``/Recordings/{Sid}`` without extension,
``.wav``); the server serves that separately, with the same auth check.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

#: twilio/twilio-oai ``spec/json/twilio_api_v2010.json`` at d50069b (2026-04-14, "Version
#: 2.6.7", Apache 2.0 per its info.license), gzipped: 1,869,177 bytes, sha256 given in ``data/README.md``.
SPEC_PATH = Path(__file__).resolve().parent / "data" / "twilio_api_v2010.json.gz"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    path_params: dict[str, dict[str, Any]]
    form: dict[str, dict[str, Any]]
    required: frozenset[str]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@functools.cache
def load_operations(path: Path = SPEC_PATH) -> tuple[Operation, ...]:
    """Parse the document once per process (it is 1.8 MB)."""
    spec = json.loads(gzip.decompress(path.read_bytes()))
    ops: list[Operation] = []
    for template, item in spec["paths"].items():
        regex = re.compile(
            "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        )
        for method in ("get", "post", "delete", "put"):
            if method not in item:
                continue
            op = item[method]
            params = {
                p["name"]: p.get("schema", {})
                for p in op.get("parameters", []) + item.get("parameters", [])
                if p.get("in") == "path"
            }
            form: dict[str, dict[str, Any]] = {}
            required: frozenset[str] = frozenset()
            body = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            if body:
                schema = _resolve(spec, body["schema"])
                form = {k: _resolve(spec, v) for k, v in schema.get("properties", {}).items()}
                required = frozenset(schema.get("required", []))
            ops.append(Operation(method.upper(), template, regex, params, form, required))
    return tuple(ops)


@dataclass
class Received:
    """One request the server accepted."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    operation: str
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """State of the fake; ``responses`` queues scripted answers (status, json body) per path template."""

    account_sid: str
    auth_token: str
    received: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    scripted: dict[str, deque[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    media: dict[str, bytes] = field(default_factory=dict)
    media_failures: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    #: index in ``received`` -> the sid of the call or message that request created
    created_sids: dict[int, str] = field(default_factory=dict)
    base_url: str = ""

    def script(self, suffix: str, status: int, body: dict[str, Any]) -> None:
        """Answer the next request whose path ends with ``suffix`` with ``status`` and ``body``."""
        self.scripted.setdefault(suffix, deque()).append((status, body))

    def requests_to(self, suffix: str) -> list[Received]:
        return [r for r in self.received if r.path.endswith(suffix)]

    # -- checking ----------------------------------------------------------------

    def _check_auth(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return "missing Basic auth"
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if (user, password) != (self.account_sid, self.auth_token):
            return "wrong credentials"
        return None

    def _check(self, request: web.Request, form: MultiDictProxy[str]) -> tuple[Operation | None, list[str]]:
        path = request.path
        candidates = [op for op in load_operations() if op.regex.match(path)]
        if not candidates:
            return None, [f"{request.method} {path}: no such path in the OpenAPI document"]
        ops = [op for op in candidates if op.method == request.method]
        if not ops:
            return None, [f"{request.method} {path}: method not allowed by the document"]
        op = ops[0]
        problems: list[str] = []
        match = op.regex.match(path)
        assert match
        for name, value in match.groupdict().items():
            schema = op.path_params.get(name, {})
            if (pattern := schema.get("pattern")) and not re.match(pattern, value):
                problems.append(f"{op.template}: path {name}={value!r} does not match {pattern}")
        if request.method in ("GET", "DELETE") and form:
            problems.append(f"{op.template}: {request.method} with a body")
        for name in form:
            if name not in op.form:
                problems.append(f"{op.template}: unknown form parameter {name}")
                continue
            schema = op.form[name]
            values = form.getall(name)
            if schema.get("type") != "array" and len(values) > 1:
                problems.append(f"{op.template}: {name} repeated")
            item = schema.get("items", schema) if schema.get("type") == "array" else schema
            for value in values:
                if (enum := item.get("enum")) and value not in enum:
                    problems.append(f"{op.template}: {name}={value!r} not in {enum}")
                if item.get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                    problems.append(f"{op.template}: {name}={value!r} is not an integer")
                if item.get("type") == "boolean" and value not in ("true", "false", "True", "False"):
                    problems.append(f"{op.template}: {name}={value!r} is not a boolean")
        missing = op.required - set(form)
        if missing:
            problems.append(f"{op.template}: missing required {sorted(missing)}")
        return op, problems

    # -- handlers ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if (problem := self._check_auth(request)) is not None:
            self.violations.append(f"{request.method} {request.path}: {problem}")
            return web.json_response({"code": 20003, "message": problem, "status": 401}, status=401)
        media = re.fullmatch(r"/2010-04-01/Accounts/AC\w+/Recordings/(RE\w+?)(\.wav|\.mp3)?", request.path)
        if media and request.method == "GET":
            return self._media(media.group(1))
        form = await request.post()
        op, problems = self._check(request, form)  # type: ignore[arg-type]
        if problems or op is None:
            self.violations.extend(problems)
            return web.json_response({"code": 21000, "message": "; ".join(problems), "status": 400}, status=400)
        self.received.append(
            Received(
                time.monotonic(),
                request.method,
                request.path,
                op.template,
                {k: form.getall(k) for k in form},  # type: ignore[misc]
            )
        )
        for suffix, queue in self.scripted.items():
            if request.path.endswith(suffix) and queue:
                status, body = queue.popleft()
                return web.json_response(body, status=status)
        return self._default(request, op, form)  # type: ignore[arg-type]

    def _media(self, sid: str) -> web.Response:
        if self.media_failures.get(sid, 0) > 0:
            self.media_failures[sid] -= 1
            return web.Response(status=503, text="try later")
        if sid not in self.media:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        return web.Response(body=self.media[sid], content_type="audio/x-wav")

    def _default(self, request: web.Request, op: Operation, form: MultiDictProxy[str]) -> web.Response:
        template = op.template
        if request.method == "DELETE":
            self.deleted.append(request.path)
            return web.Response(status=204)
        base = {"account_sid": self.account_sid, "api_version": "2010-04-01"}
        if template.endswith("/Calls.json"):
            sid = "CA" + uuid.uuid4().hex
            self.created_sids[len(self.received) - 1] = sid
            body = base | {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                           "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"}
            return web.json_response(body, status=201)
        if template.endswith("/Calls/{Sid}.json"):
            sid = request.path.rsplit("/", 1)[1].removesuffix(".json")
            return web.json_response(base | {"sid": sid, "status": form.get("Status", "in-progress")})
        if template.endswith("/Messages.json"):
            sid = "SM" + uuid.uuid4().hex
            self.created_sids[len(self.received) - 1] = sid
            body = base | {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body"),
                           "num_segments": "1", "direction": "outbound-api"}
            return web.json_response(body, status=201)
        return web.json_response(base | {"sid": "XX" + uuid.uuid4().hex})


async def start_fake(account_sid: str, auth_token: str) -> tuple[FakeTwilio, web.AppRunner]:
    """Start the server on a free loopback port."""
    fake = FakeTwilio(account_sid, auth_token)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}"
    return fake, runner
