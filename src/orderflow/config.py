"""Settings from the environment (``ORDERFLOW_*``, plus ``TEMPORAL_*``); localhost defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. CLI flags override these per command."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", extra="ignore")

    data_dir: Path = Field(default=Path("orderflow-data"))
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("ORDERFLOW_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file in the data directory",
    )

    temporal_address: str = Field(
        default="127.0.0.1:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE")
    )
    task_queue: str = "orders"
    ui_port: int = 8233

    payment_failure_rate: float = Field(default=0.20, ge=0.0, le=1.0)
    inventory_failure_rate: float = Field(default=0.15, ge=0.0, le=1.0)
    shipping_failure_rate: float = Field(default=0.10, ge=0.0, le=1.0)
    lost_response_share: float = Field(default=0.25, ge=0.0, le=1.0)
    seed: int | None = None

    max_attempts: int = Field(default=3, ge=1)
    compensation_max_attempts: int = Field(default=20, ge=1)
    activity_threads: int = Field(default=32, ge=1)

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
    def temporal_db(self) -> Path:
        """Where the embedded Temporal dev server persists its state."""
        return self.data_dir / "temporal.db"

    @property
    def ui_url(self) -> str:
        """The Temporal Web UI's list of workflows in our namespace."""
        host = self.temporal_address.rsplit(":", 1)[0]
        return f"http://{host}:{self.ui_port}/namespaces/{self.temporal_namespace}/workflows"
