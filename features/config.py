"""One settings object for the whole product, read from ``TRIAGE_*`` environment variables.

Nothing here runs at import time: callers build ``Settings()`` once and pass it down.
All generated state lives under ``home`` (``var/`` by default), which git ignores.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``TRIAGE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    home: Path = Field(default=Path("var"), description="root of all generated state")
    pseudonym_key: SecretStr | None = Field(
        default=None, description="HMAC key for pseudonyms; a random key under home/ if unset"
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the store")
    mlflow_tracking_uri: str | None = Field(default=None, description="MLflow tracking URI")
    model_name: str = Field(default="referral-triage", description="registered model name")
    known_hash_files: list[Path] = Field(default_factory=list)
    pseudonym_key_file: Path | None = Field(
        default=None,
        description="file holding the pseudonym key; in production keep it outside home "
        "(default: home/keys/pseudonym.key, made on first use)",
    )
    token_hours: dict[str, float] = Field(
        default_factory=dict,
        description='token lifetime by role, e.g. {"reviewer": 8} (default 12 h for '
        "reviewers and admins, 90 days for the scorer)",
    )
    access_log_days: int = Field(
        default=400, ge=1, description="days the access log is kept (triage audit prune)"
    )
    anchor_key_file: Path | None = Field(
        default=None, description="HMAC key for chain anchors; must be outside home"
    )
    anchor_file: Path | None = Field(
        default=None, description="append-only file the service writes signed chain heads to"
    )
    anchor_minutes: float = Field(
        default=15.0, gt=0, description="how often the service anchors the chains"
    )
    blind_review_share: float = Field(
        default=0.03, ge=0.0, le=1.0, description="share drawn for the blind second review"
    )

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def key_file(self) -> Path:
        return self.pseudonym_key_file or self.home / "keys" / "pseudonym.key"

    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow' / 'mlflow.db').resolve()}"

    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'store' / 'triage.db').resolve()}"

    def resolve_pseudonym_key(self) -> bytes:
        """The configured key, or the embedded default: a random key made once under home/.

        The default key file is created with mode 0600 in a 0700 folder. In production set
        ``TRIAGE_PSEUDONYM_KEY_FILE`` to a path outside ``home`` (``docs/security.md``), so
        a copy of the data home is not also the key to its pseudonyms.
        """
        if self.pseudonym_key is not None:
            key = self.pseudonym_key.get_secret_value().encode()
            if len(key) < 16:
                raise ValueError("TRIAGE_PSEUDONYM_KEY: must be at least 16 characters")
            return key
        path = self.key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
