"""The SNMP poller: every device on its interval, bounded concurrency, never a crash.

A poll detects the device's profiles once (from sysObjectID, sysDescr and
probe OIDs when the inventory says `auto`), GETs the profiles' scalars,
walks their tables and turns the answers into Samples. Each poll ends in a
PollReport (duration, up, samples, error) that is published with the
samples to every output; a device that fails is `up 0` with its reason,
and the cycle goes on. Clock, transport and outputs are passed in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dcops.registry import Registry
from dcops.types import PollReport, Sample
from inventory.model import SNMP, Device, Inventory

from .profile import (
    SYS_UPTIME,
    Profile,
    detection_oids,
    evaluate,
    load_profiles,
    probe_prefixes,
    select,
)
from .snmp import SnmpClient, SnmpError, SnmpTransport, Target, Value

log = logging.getLogger(__name__)

Publish = Callable[[PollReport, Sequence[Sample]], None]


@dataclass
class PollerSettings:
    interval: float = 30.0
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 32
    max_repetitions: int = 25
    # a poll that takes longer than this is abandoned (agent dribbling answers)
    deadline: float = 20.0


class CollectorError(Exception):
    """A collector's failure; its text is the poll report's reason."""


class DeviceCollector(Protocol):
    """Polls the devices of one protocol other than SNMP (which is the Poller's own)."""

    async def collect(self, device: Device, ts: float) -> tuple[list[Sample], tuple[str, ...]]:
        """The device's samples and the names of the profiles that gave them; raise on failure."""
        ...

    def close(self) -> None: ...


# protocol name -> a collector for the poller's settings; a second registration of a name is refused
PROTOCOLS: Registry[Callable[[PollerSettings], DeviceCollector]] = Registry("protocol")


def _modbus(settings: PollerSettings) -> DeviceCollector:
    from .modbus import ModbusCollector  # pymodbus only for sites with Modbus devices

    return ModbusCollector(timeout=settings.timeout, retries=settings.retries)


PROTOCOLS.register("modbus", _modbus)


@dataclass
class DeviceState:
    profiles: list[Profile] = field(default_factory=list)
    uptime: float | None = None
    next_due: float = 0.0


class Poller:
    def __init__(
        self,
        inventory: Inventory,
        *,
        outputs: Sequence[Publish] = (),
        settings: PollerSettings | None = None,
        transport: SnmpTransport | None = None,
        profiles: Mapping[str, Profile] | None = None,
        clock: Callable[[], float] = time.time,
        devices: Sequence[Device] | None = None,
        collectors: Mapping[str, DeviceCollector] | None = None,
    ) -> None:
        self.inventory = inventory
        self.collectors = dict(collectors or {})  # by protocol; made from PROTOCOLS when first needed
        self.devices = list(devices if devices is not None else inventory.devices.values())
        self.outputs = list(outputs)
        self.settings = settings or PollerSettings()
        self.transport = transport or SnmpClient()
        self.profiles = dict(profiles if profiles is not None else load_profiles())
        self.clock = clock
        self.state: dict[str, DeviceState] = {d.name: DeviceState() for d in self.devices}
        # confirming polls asked for by the trap receiver (another thread), consumed by run()
        self._requested: set[str] = set()
        self._requests_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def request_poll(self, device: str) -> bool:
        """Poll `device` now, out of its schedule (a trap says it changed); safe from any thread.

        run() polls it at its next turn, or right after the poll in flight. False for a
        device this poller does not poll (another shard's, or not in the inventory).
        """
        if device not in self.state:
            log.info("no confirming poll of %s: this poller does not poll it", device)
            return False
        with self._requests_lock:
            self._requested.add(device)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)
        return True

    def _take_requests(self) -> set[str]:
        with self._requests_lock:
            taken, self._requested = self._requested, set()
        return taken

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait until `stop`, a poll request or `seconds`, whichever comes first."""
        assert self._wake is not None
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            self._wake.clear()

    def target(self, device: Device) -> Target:
        s = self.settings
        return Target(device.host, device.port, device.snmp, timeout=s.timeout, retries=s.retries,
                      max_repetitions=s.max_repetitions)

    async def detect(self, device: Device) -> tuple[list[Profile], Mapping[str, Value]]:
        target = self.target(device)
        if device.profile != "auto":
            facts = await self.transport.get(target, [SYS_UPTIME])
            return [self.profiles[device.profile]], facts
        candidates = list(self.profiles.values())
        facts = await self.transport.get(target, detection_oids(candidates))
        prefixes: set[str] = set()
        for prefix in probe_prefixes(candidates, facts):  # only where the rest of a match holds
            if await self._first_under(target, prefix):
                prefixes.add(prefix)
        chosen = select(candidates, facts, prefixes)
        if not chosen:
            raise SnmpError(f"no profile matches sysObjectID {facts.get('1.3.6.1.2.1.1.2.0')} "
                            f"({str(facts.get('1.3.6.1.2.1.1.1.0') or '')[:60]!r})")
        return chosen, facts

    async def _first_under(self, target: Target, prefix: str) -> bool:
        return bool(await self.transport.walk(target, prefix))

    async def poll_device(self, device: Device) -> tuple[PollReport, list[Sample]]:
        """Poll one device; never raises (a failure is a report with up=False)."""
        started = time.monotonic()
        ts = self.clock()
        state = self.state.setdefault(device.name, DeviceState())
        try:
            if device.protocol == SNMP:
                samples = await asyncio.wait_for(self._poll(device, state, ts), self.settings.deadline)
                names = tuple(p.name for p in state.profiles)
            else:
                samples, names = await asyncio.wait_for(self.collector(device.protocol).collect(device, ts),
                                                        self.settings.deadline)
            report = PollReport(device.name, ts, True, time.monotonic() - started, len(samples), profiles=names)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is a report, never a stopped cycle
            reason = _reason(exc, self.settings.deadline)
            state.profiles = []  # re-detect next time: the agent may have changed
            samples = []
            report = PollReport(device.name, ts, False, time.monotonic() - started, 0, error=reason)
        return report, samples

    async def _poll(self, device: Device, state: DeviceState, ts: float) -> list[Sample]:
        target = self.target(device)
        if not state.profiles:
            state.profiles, _ = await self.detect(device)
        profiles = state.profiles
        scalars: list[str] = [SYS_UPTIME]
        walks: list[str] = []
        for p in profiles:
            scalars += [o for o in p.scalars if o not in scalars]
            walks += [w for w in p.walks if w not in walks]
        values = await self.transport.get(target, scalars)
        samples: list[Sample] = []
        uptime = values.get(SYS_UPTIME)
        if isinstance(uptime, int):
            if state.uptime is not None and uptime < state.uptime:
                # A restarted agent may run new firmware: detect its profiles again next time.
                log.info("%s: agent restarted (sysUpTime went back)", device.name)
                state.profiles = []
            state.uptime = uptime
            samples.append(Sample(device.name, "agent_uptime_seconds", uptime / 100.0, ts, "seconds",
                                  oid=SYS_UPTIME))
        walked = await self.transport.walk_many(target, walks) if walks else {}
        for p in profiles:
            samples += evaluate(p, device.name, values, walked, ts)
        return samples

    def collector(self, protocol: str) -> DeviceCollector:
        if protocol not in self.collectors:
            self.collectors[protocol] = PROTOCOLS[protocol](self.settings)
        return self.collectors[protocol]

    def close(self) -> None:
        """Close the SNMP transport and every collector."""
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()
        for c in self.collectors.values():
            c.close()

    def _publish(self, report: PollReport, samples: Sequence[Sample]) -> None:
        for publish in self.outputs:
            try:
                publish(report, samples)
            except Exception:  # one broken output must not stop the others
                log.exception("output %r failed for %s", publish, report.device)

    async def poll_once(self) -> list[tuple[PollReport, list[Sample]]]:
        """Poll every device once, at most `concurrency` at a time; publish each result."""
        sem = asyncio.Semaphore(self.settings.concurrency)

        async def one(device: Device) -> tuple[PollReport, list[Sample]]:
            async with sem:
                result = await self.poll_device(device)
            self._publish(*result)
            return result

        return list(await asyncio.gather(*(one(d) for d in self.devices)))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll each device on its own interval until `stop` is set."""
        sem = asyncio.Semaphore(self.settings.concurrency)
        running: dict[str, asyncio.Task[None]] = {}

        async def one(device: Device) -> None:
            async with sem:
                result = await self.poll_device(device)
            self._publish(*result)

        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while not stop.is_set():
            now = self.clock()
            requested = self._take_requests()
            for device in self.devices:
                st = self.state[device.name]
                busy = device.name in running and not running[device.name].done()
                if busy and device.name in requested:
                    with self._requests_lock:  # after the poll in flight, which may predate the trap
                        self._requested.add(device.name)
                if (now >= st.next_due or device.name in requested) and not busy:
                    st.next_due = now + (device.interval or self.settings.interval)
                    running[device.name] = asyncio.create_task(one(device))
            due = min(self.state[d.name].next_due for d in self.devices) if self.devices else now + 1
            await self._sleep(stop, max(0.05, min(1.0, due - self.clock())))
        self._loop = None
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


def _reason(exc: BaseException, deadline: float) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"poll exceeded its {deadline:g} s deadline"
    if isinstance(exc, (SnmpError, CollectorError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
