"""The virtual room: the model rendered into recordings, kept fresh, served by snmpsim."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from inventory.model import Device, Inventory

from .model import MODELLED, Faults, RoomModel, RoomState
from .recordings import Agent, render
from .snmpsim import RECORDING_SUFFIX, SnmpSim, StartStop, write_recording

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class LabError(Exception):
    pass


def at_address(inventory: Inventory, host: str, port: int) -> Inventory:
    """A copy of `inventory` whose every device is polled at host:port (e.g. a free test port)."""
    devices = {name: dataclasses.replace(d, host=host, port=port) for name, d in inventory.devices.items()}
    return dataclasses.replace(inventory, devices=devices)


def _unsafe_community(community: str) -> str | None:
    if not community:
        return "is empty"
    if "/" in community or "\0" in community:
        return "contains '/' or NUL (snmpsim would read a sub-folder)"
    if community.startswith(".") or community == "self":
        return "starts with '.' or is 'self' (snmpsim treats those specially)"
    return None


class VirtualRoom(StartStop):
    """Writes one recording per served device from the model, now or every `interval` seconds.

    A device is served when the lab models its class and it speaks SNMP v1/v2c;
    the others are listed in `skipped` with the reason. Recordings live at
    `<workdir>/data/<community>.snmprec`.
    """

    def __init__(
        self,
        inventory: Inventory,
        workdir: Path | str,
        clock: Clock = time.time,
        *,
        model: RoomModel | None = None,
    ) -> None:
        self.inventory = inventory
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.clock = clock
        self.model = model if model is not None else RoomModel(inventory)
        self.skipped: dict[str, str] = {}
        self.devices: list[Device] = []
        self._paths: dict[str, Path] = {}
        owners: dict[str, str] = {}
        for dev in sorted(inventory.devices.values(), key=lambda d: d.name):
            if dev.device_class not in MODELLED:
                self.skipped[dev.name] = f"the lab does not model class {dev.device_class!r}"
                continue
            if dev.snmp.version not in ("1", "2c") or dev.snmp.community is None:
                self.skipped[dev.name] = "the lab serves SNMP v1/v2c communities only"
                continue
            community = dev.snmp.community.reveal()
            if problem := _unsafe_community(community):
                raise LabError(f"device {dev.name}: its community {problem}")
            if community in owners:
                raise LabError(f"devices {owners[community]} and {dev.name} share a community: "
                               "snmpsim tells devices apart by community alone")
            owners[community] = dev.name
            self.devices.append(dev)
            self._paths[dev.name] = self.data_dir / f"{community}{RECORDING_SUFFIX}"
        self.state: RoomState | None = None
        self.last_error: BaseException | None = None
        self._mtimes: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.model.faults

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        """Each distinct address the served devices are polled at."""
        return list(dict.fromkeys((d.host, d.port) for d in self.devices))

    def recording_path(self, device: str) -> Path:
        return self._paths[device]

    def probe_community(self) -> str:
        """A community that answers now, for readiness checks."""
        down = self.state.down if self.state is not None else frozenset()
        for dev in self.devices:
            if dev.name not in down:
                assert dev.snmp.community is not None
                return dev.snmp.community.reveal()
        raise LabError("no served device is up")

    def render(self, now: float | None = None) -> RoomState:
        """Step the model to `now` (default: the clock) and rewrite every recording."""
        with self._lock:
            now = self.clock() if now is None else now
            state = self.model.step(now)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for dev in self.devices:
                record = render(Agent(dev, now, state.uptime[dev.name]), state.readings[dev.name])
                text = record.snmprec_down() if dev.name in state.down else record.snmprec()
                path = self._paths[dev.name]
                self._mtimes[path] = write_recording(path, text, self._mtimes.get(path))
            self.state = state
            return state

    def start(self, interval: float = 5.0) -> None:
        """Re-render every `interval` seconds in a background thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,), name="lab-room", daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.render()
                self.last_error = None
            except Exception as exc:  # keep serving the last recordings; say why
                self.last_error = exc
                log.exception("rendering the virtual room failed")

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join()



class LabRunner(StartStop):
    """The whole lab: render the room, start snmpsim on its addresses, keep it fresh; stop both.

    >>> with LabRunner(inventory, tmp_path) as lab:   # doctest: +SKIP
    ...     lab.faults.utility_lost = True
    ...     lab.room.render()
    """

    def __init__(
        self,
        inventory: Inventory,
        workdir: Path | str,
        clock: Clock = time.time,
        *,
        interval: float = 5.0,
        ready_timeout: float = 30.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.room = VirtualRoom(inventory, self.workdir, clock)
        self.interval = interval
        self.ready_timeout = ready_timeout
        self.agent: SnmpSim | None = None

    @property
    def faults(self) -> Faults:
        return self.room.faults

    def start(self) -> None:
        if not self.room.devices:
            raise LabError("no device to serve: " + "; ".join(f"{k}: {v}" for k, v in self.room.skipped.items()))
        try:
            self.room.render()
            self.agent = SnmpSim(
                self.room.data_dir,
                self.room.endpoints,
                self.workdir,
                probe_community=self.room.probe_community(),
                ready_timeout=self.ready_timeout,
            )
            self.agent.start()
            self.room.start(self.interval)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            self.room.stop()
        finally:
            if self.agent is not None:
                self.agent.stop()

