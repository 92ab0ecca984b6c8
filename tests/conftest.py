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


def copy_reference(tmp_path: Path, port: int = 11161) -> Path:
    """The reference inventory copied into tmp_path, its devices moved to 127.0.0.1:port."""
    import shutil

    from inventory import REFERENCE_DIR

    target = tmp_path / "inventory"
    shutil.copytree(REFERENCE_DIR, target)
    devices = target / "devices.yml"
    text = devices.read_text(encoding="utf-8").replace("127.0.0.1:11161", f"127.0.0.1:{port}")
    devices.write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def running_room(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The reference room served by a real snmpsim on a free port, for the module's tests."""
    from inventory import REFERENCE_DIR, load_inventory
    from lab import LabRunner, at_address, free_udp_port
    from lab.snmpsim import responder_path

    if not responder_path().exists():
        missing("snmpsim (snmpsim-command-responder)")
    inventory = at_address(load_inventory(REFERENCE_DIR), "127.0.0.1", free_udp_port())
    with LabRunner(inventory, tmp_path_factory.mktemp("room"), interval=3600) as lab:
        yield lab
