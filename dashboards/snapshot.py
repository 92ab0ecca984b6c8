"""What the panel knows at one moment: the inventory, the poll reports and fresh readings.

A device is *up* when its last poll report is fresh and succeeded, *down* when
it is fresh and failed, *stale* when it is older than `stale_after` seconds and
*never* when there is no report at all. `never` is counted as stale: in both
cases the panel has no current word from the device. Readings older than
`stale_after` are left out of every figure, so an old temperature is never
shown as today's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from dcops.types import ENV, PDU, PollReport, Sample
from inventory.model import Device, Inventory, PowerFeed
from outputs.store import Store

UP: Final = "up"
DOWN: Final = "down"
STALE: Final = "stale"
NEVER: Final = "never"

INLET_TEMPERATURE: Final = "env_temperature_celsius"
HUMIDITY: Final = "env_humidity_ratio"
PDU_POWER: Final = "pdu_power_watts"


@dataclass(frozen=True)
class DeviceState:
    name: str
    status: str
    report: PollReport | None
    age: float | None  # seconds since the last report

    @property
    def counted_as(self) -> str:
        """The bucket /api/health counts it in: up, down or stale."""
        return STALE if self.status == NEVER else self.status


@dataclass(frozen=True)
class Counts:
    total: int
    up: int
    down: int
    stale: int


def device_state(
    name: str, report: PollReport | None, now: float, stale_after: float
) -> DeviceState:
    if report is None:
        return DeviceState(name, NEVER, None, None)
    age = max(0.0, now - report.ts)
    if age > stale_after:
        return DeviceState(name, STALE, report, age)
    return DeviceState(name, UP if report.up else DOWN, report, age)


def count(states: Iterable[DeviceState]) -> Counts:
    buckets = {UP: 0, DOWN: 0, STALE: 0}
    for st in states:
        buckets[st.counted_as] += 1
    return Counts(total=sum(buckets.values()), up=buckets[UP], down=buckets[DOWN],
                  stale=buckets[STALE])


class Snapshot:
    """Reads the store once; every page and API answer is computed from one of these."""

    def __init__(self, inventory: Inventory, store: Store, now: float, stale_after: float) -> None:
        self.inventory = inventory
        self.memo: dict[tuple[str, ...], Any] = {}  # views computed from this reading (data.memo)
        self.now = now
        self.stale_after = stale_after
        self.reports = store.reports()
        self.states = {
            name: device_state(name, self.reports.get(name), now, stale_after)
            for name in inventory.devices
        }
        self._by_rack: dict[tuple[str, str], list[Device]] = defaultdict(list)
        self._by_feed: dict[str, list[Device]] = defaultdict(list)
        self._feeds: dict[str, list[PowerFeed]] = defaultdict(list)
        for dev in inventory.devices.values():
            if dev.rack:
                self._by_rack[(dev.rack, dev.device_class)].append(dev)
            if dev.feed and dev.device_class == PDU:
                self._by_feed[dev.feed].append(dev)
        for feed in sorted(inventory.feeds.values(), key=lambda f: f.side):
            self._feeds[feed.rack].append(feed)
        self.samples: dict[str, list[Sample]] = defaultdict(list)
        self._fresh: dict[tuple[str, str], list[Sample]] = defaultdict(list)
        for s in store.latest():
            if s.device not in inventory.devices:
                continue
            self.samples[s.device].append(s)
            if now - s.ts <= stale_after:
                self._fresh[(s.device, s.metric)].append(s)

    @property
    def counts(self) -> Counts:
        return count(self.states.values())

    @property
    def last_poll(self) -> float | None:
        return max((st.report.ts for st in self.states.values() if st.report), default=None)

    def fresh(self, device: str, metric: str) -> list[Sample]:
        return self._fresh.get((device, metric), [])

    def value(self, devices: Iterable[Device], metric: str,
              combine: Callable[[list[float]], float] = max) -> float | None:
        """`combine` of the fresh values of `metric` over `devices`, None when there are none."""
        values = [s.value for d in devices for s in self.fresh(d.name, metric)]
        return combine(values) if values else None

    def text(self, device: str, metric: str) -> str:
        """The state name of a single-valued state reading ('' when there is none)."""
        found = self.fresh(device, metric)
        return found[0].text if found else ""

    # ---------------------------------------------------------------- racks

    def rack_inlet(self, rack: str) -> float | None:
        """The warmest fresh reading of the rack's inlet probe(s) (class `env` in the rack)."""
        return self.value(self._in(rack, ENV), INLET_TEMPERATURE)

    def rack_humidity(self, rack: str) -> float | None:
        return self.value(self._in(rack, ENV), HUMIDITY)

    def rack_power_watts(self, rack: str) -> float | None:
        return self.value(self._in(rack, PDU), PDU_POWER, sum)

    def it_load_watts(self) -> float | None:
        """The sum of every PDU's fresh `pdu_power_watts`."""
        return self.value(self.inventory.devices.values(), PDU_POWER, sum)

    def feeds_of(self, rack: str) -> list[PowerFeed]:
        return self._feeds.get(rack, [])

    def pdus_on(self, feed: str) -> list[Device]:
        return self._by_feed.get(feed, [])

    def _in(self, rack: str, device_class: str) -> list[Device]:
        return self._by_rack.get((rack, device_class), [])
