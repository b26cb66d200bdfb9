"""Settings from the environment (``ORDERFLOW_*``, plus ``TEMPORAL_*``); localhost defaults."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderflow.workflows.messages import ActivityMode, StatusUpdates


def default_data_dir() -> Path:
    """Where orderflow keeps its state unless told otherwise: the same place whatever the
    current directory (``$XDG_DATA_HOME/orderflow``, by default ``~/.local/share/orderflow``)."""
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser() / "orderflow"


def owner_only_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path``, made with ``make`` (owner-only, 0600) if there is none.

    Safe when processes start together: the file is created exclusively, and a process
    that loses the race reads the winner's secret.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


#: The dev stack's own API key (``orderflow server``, when ORDERFLOW_API_KEYS is unset).
API_KEY_FILE = "api.key"


def local_api_key(data_dir: Path) -> str:
    """The data directory's API key for the dev stack's console and API, made on first use."""
    return owner_only_secret(data_dir / API_KEY_FILE, lambda: secrets.token_urlsafe(32))


def _env_names(name: str, alias: object) -> list[str]:
    """The environment variables a setting is read from, the documented one first."""
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"ORDERFLOW_{name.upper()}"]


class Settings(BaseSettings):
    """Everything configurable. CLI flags override these per command."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", extra="ignore")

    #: The data directory: the SQLite store, the embedded server's state, keys, logs.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("ORDERFLOW_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file in the data directory",
    )
    #: The legacy processor's own database (never the shop's); default: legacy.db in the
    #: data directory.
    legacy_database_url: str = ""

    temporal_address: str = Field(
        default="127.0.0.1:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE")
    )
    task_queue: str = "orders"
    #: gRPC compression of every message to and from Temporal: ``auto`` (default) sends
    #: them uncompressed when the server is on this machine (loopback: gzip there is CPU
    #: spent on both ends for nothing) and gzipped otherwise; ``gzip`` or ``none`` force it.
    grpc_compression: str = Field(default="auto", pattern="^(auto|gzip|none)$")
    ui_port: int = 8233

    payment_failure_rate: float = Field(default=0.20, ge=0.0, le=1.0)
    inventory_failure_rate: float = Field(default=0.15, ge=0.0, le=1.0)
    shipping_failure_rate: float = Field(default=0.10, ge=0.0, le=1.0)
    lost_response_share: float = Field(default=0.25, ge=0.0, le=1.0)
    #: Share of calls that hang for slow_seconds (past the attempt timeout) — 0 disables.
    slow_share: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_seconds: float = Field(default=0.0, ge=0.0, le=300.0)
    seed: int | None = None

    max_attempts: int = Field(default=3, ge=1)
    compensation_max_attempts: int = Field(default=20, ge=1)
    activity_threads: int = Field(default=32, ge=1)
    #: Which steps run as local activities: regular, mixed (default) or local — see
    #: ``orderflow.workflows.messages.ActivityMode`` and docs/performance.md.
    activity_mode: ActivityMode = ActivityMode.MIXED
    #: Write the OrderStatus search attribute (one history event and one visibility write
    #: each time); off: orders are listed by workflow status only.
    status_search_attribute: bool = True
    #: ``waits`` (default): write it only where an order waits for someone or went wrong
    #: (review, operator, unwinding, failed, cancelled), none for one that runs through;
    #: ``resting``: also RECEIVED at the start and COMPLETED at the end (2 writes per
    #: order); ``every``: at every status change (6 writes per order).
    status_updates: StatusUpdates = StatusUpdates.WAITS
    #: Run workflows in the SDK's sandbox (determinism checks). Off trades those checks for
    #: less worker CPU per order; the test suite always runs sandboxed.
    workflow_sandbox: bool = True

    #: Prometheus metrics of the worker on 127.0.0.1:PORT (0 disables).
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    #: "text" (human) or "json" (one object per line, with the order id as a field).
    log_format: str = Field(default="text", pattern="^(text|json)$")
    #: Orders whose total exceeds this wait for review (unset: no review).
    review_threshold: Decimal | None = None
    review_timeout_s: float = Field(default=24 * 3600, gt=0)
    #: How long the card's hold lasts (a gateway's usual 7 days); an order still waiting
    #: when a seventh of it is left re-authorizes on a durable timer.
    authorization_ttl_s: float = Field(default=7 * 24 * 3600, ge=60)
    #: How long a customer return waits for its items before it expires (30 days).
    return_window_s: float = Field(default=30 * 24 * 3600, gt=0)

    #: REST API keys, comma-separated (ORDERFLOW_API_KEYS), each at least 16 characters;
    #: clients send ``Authorization: Bearer <key>``. A secret: never printed or logged.
    api_keys: SecretStr = SecretStr("")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    #: Request bodies larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    #: How long an API request waits for Temporal before answering 504.
    api_timeout_s: float = Field(default=30.0, gt=0)
    #: A door waiting on an order says "nothing processes it" (no worker, or workers that
    #: fail its tasks) once the order has made no progress for this long.
    stall_after_s: float = Field(default=10.0, gt=0, le=3600)

    #: Encrypt every payload (orders, names, addresses, tokens, results) before it reaches
    #: Temporal. On by default: with no keys configured, a key is made on first use in
    #: the data directory (``encryption.key``, owner-only).
    encrypt_payloads: bool = True
    #: Payload encryption keys, "id:base64key,..." (empty: the data directory's key).
    encryption_keys: SecretStr = SecretStr("")
    #: Key id used for new payloads (default: the first key listed).
    encryption_key_id: str = ""
    #: Codec endpoint the embedded server's Web UI uses to show decrypted payloads
    #: (default: the one ``orderflow server`` runs on 127.0.0.1:``ui_codec_port``).
    ui_codec_endpoint: str = ""
    #: Port of the codec ``orderflow server`` serves for its Web UI (loopback only).
    ui_codec_port: int = Field(default=8234, ge=1, le=65535)
    #: Browser origins allowed to call the API's codec endpoint (the Temporal Web UI).
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"]
    )

    def to_env(self) -> dict[str, str]:
        """These settings as the environment variables that give them back (for a child).

        ``Settings()`` in a process started with this environment equals ``self``; unset
        optional values are left out. Secrets are included: pass this environment only to
        processes of ours.
        """
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if name == "encryption_keys":
                # The keys in force, so a child started elsewhere reads its parent's orders.
                value = SecretStr(self.keys())
            if value is None:
                continue
            var = _env_names(name, field.validation_alias)[0]
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, Enum):
                value = value.value
            if isinstance(value, bool):
                env[var] = "true" if value else "false"
            elif isinstance(value, list):
                env[var] = json.dumps(value)
            else:
                env[var] = str(value)
        return env

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (the parent's environment) with these settings in force for a child.

        Variables of settings that are unset here are removed, so an inherited
        ``ORDERFLOW_SEED`` (say) cannot come back in the child.
        """
        env = dict(base)
        for name, field in type(self).model_fields.items():
            if getattr(self, name) is None:
                for var in _env_names(name, field.validation_alias):
                    env.pop(var, None)
        env.update(self.to_env())
        return env

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_url(self) -> str:
        """The database URL in force (the SQLite default lives in the data directory)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'orderflow.db').resolve()}"

    @property
    def legacy_db_url(self) -> str:
        """The legacy processor's database: its own, so it never touches the shop's."""
        if self.legacy_database_url:
            return self.legacy_database_url
        return f"sqlite:///{(self.data_dir / 'legacy.db').resolve()}"

    def keys(self) -> str:
        """The payload encryption keys in force ("id:base64key,..."; "" when off).

        Configured keys win; otherwise the data directory's key, made on first use.
        """
        if not self.encrypt_payloads:
            return ""
        configured = self.encryption_keys.get_secret_value()
        if configured.strip():
            return configured
        from orderflow.temporal.codec import local_key  # imported late: cryptography

        return local_key(self.data_dir)

    @property
    def ui_origins(self) -> list[str]:
        """The Web UI's browser origins (allowed to call the codec endpoints)."""
        return [
            *self.codec_cors_origins,
            *(f"http://{host}:{self.ui_port}" for host in ("127.0.0.1", "localhost")),
        ]

    @property
    def codec_url(self) -> str:
        """The codec endpoint the embedded Web UI is given."""
        return self.ui_codec_endpoint or f"http://127.0.0.1:{self.ui_codec_port}"

    @property
    def temporal_db(self) -> Path:
        """Where the embedded Temporal dev server persists its state."""
        return self.data_dir / "temporal.db"

    @property
    def console_url(self) -> str:
        """The operator console, served by ``orderflow api`` (and by ``orderflow server``)."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return f"http://{host}:{self.api_port}/console/"

    @property
    def ui_url(self) -> str:
        """The Temporal Web UI's list of workflows in our namespace."""
        host = self.temporal_address.rsplit(":", 1)[0]
        return f"http://{host}:{self.ui_port}/namespaces/{self.temporal_namespace}/workflows"
