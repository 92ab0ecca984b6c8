"""Shared test helpers: real components are required in CI and skipped, loudly, elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DEVICES = Path(__file__).resolve().parents[2] / "shared" / "devices"


def missing(what: str) -> None:
    """A component is absent: a failure in CI, a skip with the reason elsewhere."""
    message = f"{what} is not available (make test installs it)"
    if IN_CI:
        pytest.fail(message + " — in CI a missing component is a failure")
    pytest.skip(message)


def require_command(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"the command {name!r}")
    assert path is not None
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
