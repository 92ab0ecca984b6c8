"""Settings: defaults a newcomer never has to touch, each overridable by DCOPS_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    inventory: Path
    secrets: Path | None
    store: Path
    retention_days: float = 14.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        from inventory import REFERENCE_DIR

        env = os.environ if environ is None else environ
        secrets = env.get("DCOPS_SECRETS")
        return cls(
            inventory=Path(env.get("DCOPS_INVENTORY", str(REFERENCE_DIR))),
            secrets=Path(secrets) if secrets else None,
            store=Path(env.get("DCOPS_STORE", "var/dcops.db")),
            retention_days=float(env.get("DCOPS_RETENTION_DAYS", "14")),
        )

    @property
    def retention_seconds(self) -> float:
        return self.retention_days * 86400.0
