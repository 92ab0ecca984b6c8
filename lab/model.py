"""A small physical model of the machine room, driven by the clock passed in.

What depends only on `now` — IT load and its daily curve, noise, energy
counters, agent uptime — is a pure function of it, seeded from names. What
depends on history — how far the room has warmed since the CRACs failed, how
much battery is left — is state that `step(now)` advances: the faults as they
stand at a step apply over the interval since the previous step, so a scenario
sets a fault, moves its clock and steps again.

Power: each active rack's load splits over its feeds (A/B); a feed is live
while the UPS behind its panel has output; a UPS delivers its feeds' load plus
distribution losses. Heat: running cooling units in a location share the IT
heat; heat they cannot remove warms every rack there, and a failed unit also
warms the racks nearest to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

from dcops.types import COOLING, DOOR, ENV, LEAK, PDU, SMOKE, UPS
from inventory.model import Device, Inventory, PowerFeed

from .curves import RackProfile, noise, spread, unit

COMMISSIONED = 1672502400.0  # 2023-01-01 00:00 +08:00: energy counters count from here
BOOTED = 1748707200.0  # 2025-06-01 00:00 +08:00: agents booted up to 30 days before

RATED_PF = 0.9  # a UPS's kW rating is its kVA rating times this
LOAD_PF = 0.96  # IT load seen by the UPS output
DISTRIBUTION_LOSS = 0.01  # cables and breakers between UPS and PDUs
FULL_LOAD_AUTONOMY_MIN = 30.0  # battery runtime at the UPS's full kW rating
PEUKERT = 1.15  # runtime grows a little faster than the load falls
RECHARGE_PCT_PER_H = 12.0
LOW_BATTERY_MIN = 5.0  # upsConfigLowBattTime
FREQUENCY_HZ = 50.0

SUPPLY_SETPOINT_C = 20.0
HEAT_TAU_S = 1200.0  # how fast racks warm towards a hotter target
COOL_TAU_S = 360.0  # and cool back once cooling returns
K_PER_UNCOVERED_KW = 0.6  # steady-state rise per kW of heat nobody removes (a ~100 m² room)
LOCAL_RISE_C = 2.0  # extra for racks whose nearest unit failed while others cope
MAX_AIRFLOW_CFM = 2900.0


@dataclass
class Faults:
    """What is broken. Mutable, read at every step; also usable as a dict (`faults["leak"]`)."""

    crac_failed: set[str] = field(default_factory=set)
    utility_lost: bool = False
    leak: bool = False
    smoke: bool = False
    door_open: bool = False
    agent_down: set[str] = field(default_factory=set)

    def _check(self, name: str) -> None:
        if name not in {f.name for f in fields(self)}:
            raise KeyError(f"no such fault {name!r}; known: {', '.join(f.name for f in fields(self))}")

    def __getitem__(self, name: str) -> Any:
        self._check(name)
        return getattr(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        self._check(name)
        current = getattr(self, name)
        if isinstance(current, set):
            value = set(value)
        elif not isinstance(value, bool):
            raise TypeError(f"fault {name!r} is a bool, not {type(value).__name__}")
        setattr(self, name, value)

    def snapshot(self) -> Faults:
        return Faults(
            crac_failed=set(self.crac_failed),
            utility_lost=self.utility_lost,
            leak=self.leak,
            smoke=self.smoke,
            door_open=self.door_open,
            agent_down=set(self.agent_down),
        )

    def clear(self) -> None:
        self.crac_failed.clear()
        self.agent_down.clear()
        self.utility_lost = self.leak = self.smoke = self.door_open = False


# Readings: physical values in base units; the recordings turn them into MIB shapes.


@dataclass(frozen=True)
class UpsReading:
    source: str  # "normal", "battery" or "none"
    battery_status: str  # "normal", "low" or "depleted"
    seconds_on_battery: float
    minutes_remaining: float
    charge_percent: float
    battery_voltage: float
    battery_current: float  # A DC, positive while charging, negative while discharging
    battery_temperature: float
    input_voltage: tuple[float, ...]  # one per line
    input_frequency: float
    input_current: tuple[float, ...]
    input_power: tuple[float, ...]  # W
    output_voltage: tuple[float, ...]
    output_frequency: float
    output_current: tuple[float, ...]
    output_power: tuple[float, ...]  # W
    output_load_percent: tuple[float, ...]  # of each line's share of the rating
    input_line_bads: int
    alarms: tuple[tuple[str, float], ...]  # (well-known alarm, since epoch seconds)
    rated_va: float
    rated_w: float
    nominal_voltage: float


@dataclass(frozen=True)
class PduReading:
    power_w: float
    apparent_va: float
    power_factor: float
    energy_kwh: float
    rated_amperes: float
    phase_voltage: tuple[float, ...]
    phase_current: tuple[float, ...]
    phase_power: tuple[float, ...]  # W


@dataclass(frozen=True)
class CoolingReading:
    running: bool
    output_kw: float
    demand_kw: float
    rack_inlet_c: float
    supply_air_c: float
    return_air_c: float
    fan_percent: float
    airflow_cfm: float
    alarms: int


@dataclass(frozen=True)
class ProbeReading:
    label: str
    temperature_c: float
    humidity_percent: float


@dataclass(frozen=True)
class ContactReading:
    label: str
    alarm: bool


Reading = UpsReading | PduReading | CoolingReading | ProbeReading | ContactReading

CONTACT_LABELS = {LEAK: "Water leak rope", SMOKE: "Smoke detector", DOOR: "Door contact"}
CONTACT_FAULTS = {LEAK: "leak", SMOKE: "smoke", DOOR: "door_open"}
MODELLED = frozenset({UPS, PDU, COOLING, ENV, LEAK, SMOKE, DOOR})


@dataclass(frozen=True)
class RoomState:
    now: float
    readings: Mapping[str, Reading]  # every modelled device, down ones included
    uptime: Mapping[str, float]  # seconds since each agent booted
    down: frozenset[str]
    rack_load_kw: Mapping[str, float]
    rack_inlet_c: Mapping[str, float]

    @property
    def it_load_kw(self) -> float:
        return sum(self.rack_load_kw.values())


@dataclass
class _Battery:
    charge: float = 100.0
    since: float | None = None  # on battery since
    line_bads: int = 0
    alarms: dict[str, float] = field(default_factory=dict)

    @property
    def depleted(self) -> bool:
        return self.since is not None and self.charge <= 0.0


def _ease(value: float, target: float, dt: float) -> float:
    """First-order lag towards `target` over `dt`; exact for any step size."""
    tau = HEAT_TAU_S if target > value else COOL_TAU_S
    return target + (value - target) * math.exp(-dt / tau)


class RoomModel:
    """The room's physics for one inventory. Not thread-safe: callers serialise `step`."""

    def __init__(self, inventory: Inventory, faults: Faults | None = None) -> None:
        self.inventory = inventory
        self.faults = faults if faults is not None else Faults()
        self.tz = ZoneInfo(inventory.site.timezone)
        self.racks = {
            name: RackProfile.seeded(name, rack.power_budget_kw)
            for name, rack in inventory.racks.items()
            if rack.in_use
        }
        self.lines = 3 if inventory.utility is not None and inventory.utility.phase == "three" else 1
        utility_v = float(inventory.utility.voltage) if inventory.utility is not None else 230.0
        self.utility_phase_v = utility_v / math.sqrt(3) if self.lines == 3 else utility_v
        self.ups_of_panel = {p.name: p.ups for p in inventory.panels.values()}
        self._coolers: dict[str, list[Device]] = {}
        for dev in sorted(inventory.devices_of(COOLING), key=lambda d: d.name):
            self._coolers.setdefault(self._location_of(dev), []).append(dev)
        self._nearest = {rack: self._nearest_cooler(rack) for rack in self.racks}
        self._batteries = {d.name: _Battery() for d in inventory.devices_of(UPS)}
        self._excess = dict.fromkeys(self.racks, 0.0)
        self._boot = {name: BOOTED - 30 * 86400 * unit(name, "boot") for name in inventory.devices}
        self._down: set[str] = set()
        self._last: float | None = None

    # -- pure functions of `now` -----------------------------------------------------------

    def rack_load_kw(self, rack: str, now: float) -> float:
        """IT load of an active rack (0 for racks not in use)."""
        profile = self.racks.get(rack)
        return profile.load_kw(self.tz, now) if profile is not None else 0.0

    def it_load_kw(self, now: float) -> float:
        return sum(self.rack_load_kw(r, now) for r in self.racks)

    def _location_of(self, dev: Device) -> str:
        if dev.rack is not None:
            return self.inventory.racks[dev.rack].location
        return dev.location

    def _nearest_cooler(self, rack: str) -> str | None:
        r = self.inventory.racks[rack]
        units = self._coolers.get(r.location, [])
        if not units:
            return None
        columns = self.inventory.locations[r.location].columns
        return units[min(len(units) - 1, (r.column - 1) * len(units) // max(columns, 1))].name

    def _feed_weights(self, rack: str, live: Mapping[str, bool]) -> dict[str, float]:
        """How a rack's load splits over its live feeds (slightly uneven, as in life)."""
        weights = {
            f.name: 1 + 0.08 * spread(f.name, "share")
            for f in self.inventory.feeds_of(rack)
            if live.get(self.ups_of_panel[f.panel], True)
        }
        total = sum(weights.values())
        return {k: v / total for k, v in weights.items()} if total else {}

    def _feed_loads_kw(self, loads: Mapping[str, float], live: Mapping[str, bool]) -> dict[str, float]:
        out = dict.fromkeys(self.inventory.feeds, 0.0)
        for rack, load in loads.items():
            for feed, share in self._feed_weights(rack, live).items():
                out[feed] = load * share
        return out

    def _unpowered(self, live: Mapping[str, bool]) -> set[str]:
        """PDUs on a feed whose UPS has no output: their management cards are dark too."""
        return {
            d.name
            for d in self.inventory.devices_of(PDU)
            if d.feed is not None and not live.get(self.ups_of_panel[self.inventory.feeds[d.feed].panel], True)
        }

    def _ups_loads_w(self, feed_kw: Mapping[str, float]) -> dict[str, float]:
        out = dict.fromkeys(self._batteries, 0.0)
        for feed in self.inventory.feeds.values():
            ups = self.ups_of_panel[feed.panel]
            if ups in out:
                out[ups] += feed_kw[feed.name] * 1000 * (1 + DISTRIBUTION_LOSS)
        return out

    # -- the step --------------------------------------------------------------------------

    def _validate(self, faults: Faults) -> None:
        coolers = {d.name for d in self.inventory.devices_of(COOLING)}
        if unknown := faults.crac_failed - coolers:
            raise ValueError(f"crac_failed names no cooling unit: {', '.join(sorted(unknown))}")
        if unknown := faults.agent_down - set(self.inventory.devices):
            raise ValueError(f"agent_down names no device: {', '.join(sorted(unknown))}")

    def step(self, now: float) -> RoomState:
        faults = self.faults.snapshot()
        self._validate(faults)
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        onset = now if self._last is None else min(self._last, now)
        self._last = now

        loads = {rack: self.rack_load_kw(rack, now) for rack in self.racks}
        live = {name: not b.depleted for name, b in self._batteries.items()}
        ups_w = self._ups_loads_w(self._feed_loads_kw(loads, live))
        for dev in self.inventory.devices_of(UPS):
            self._advance_battery(dev, ups_w[dev.name], faults.utility_lost, dt, onset, now)
        live = {name: not b.depleted for name, b in self._batteries.items()}
        feed_kw = self._feed_loads_kw(loads, live)
        ups_w = self._ups_loads_w(feed_kw)
        down = set(faults.agent_down) | self._unpowered(live)
        for name in self._down - down:  # an agent that comes back has rebooted, at the onset
            self._boot[name] = onset
        self._down = down

        self._advance_heat(loads, faults, dt)
        inlet = {rack: self._inlet_c(rack, loads[rack], now) for rack in self.racks}

        readings: dict[str, Reading] = {}
        for dev in self.inventory.devices.values():
            reading = self._reading(dev, now, faults, loads, inlet, feed_kw, ups_w, live)
            if reading is not None:
                readings[dev.name] = reading
        return RoomState(
            now=now,
            readings=readings,
            uptime={n: now - b for n, b in self._boot.items()},
            down=frozenset(down),
            rack_load_kw=loads,
            rack_inlet_c=inlet,
        )

    def _reading(
        self,
        dev: Device,
        now: float,
        faults: Faults,
        loads: Mapping[str, float],
        inlet: Mapping[str, float],
        feed_kw: Mapping[str, float],
        ups_w: Mapping[str, float],
        live: Mapping[str, bool],
    ) -> Reading | None:
        cls = dev.device_class
        if cls == UPS:
            return self._ups(dev, ups_w[dev.name], now)
        if cls == PDU and dev.feed is not None:
            feed = self.inventory.feeds[dev.feed]
            return self._pdu(dev, feed, feed_kw[feed.name], live.get(self.ups_of_panel[feed.panel], True), now)
        if cls == COOLING:
            return self._cooling(dev, faults, loads, inlet, now)
        if cls == ENV:
            return self._probe(dev, inlet, now)
        if cls in CONTACT_LABELS:
            return ContactReading(CONTACT_LABELS[cls], bool(faults[CONTACT_FAULTS[cls]]))
        return None

    # -- power -----------------------------------------------------------------------------

    def _rated_w(self, dev: Device) -> float:
        return (dev.rating or 10.0) * 1000 * RATED_PF

    def _full_runtime_min(self, dev: Device, load_w: float) -> float:
        rated = self._rated_w(dev)
        return FULL_LOAD_AUTONOMY_MIN * (rated / max(load_w, 0.05 * rated)) ** PEUKERT

    def _advance_battery(
        self, dev: Device, load_w: float, utility_lost: bool, dt: float, onset: float, now: float
    ) -> None:
        b = self._batteries[dev.name]
        if utility_lost:
            if b.since is None:
                b.since = onset
                b.line_bads += 1
                b.alarms.update(onBattery=onset, inputBad=onset)
            b.charge = max(0.0, b.charge - 100.0 * dt / 60.0 / self._full_runtime_min(dev, load_w))
            remaining = self._full_runtime_min(dev, load_w) * b.charge / 100.0
            if remaining < LOW_BATTERY_MIN:
                b.alarms.setdefault("lowBattery", now)
            if b.charge <= 0.0:
                b.alarms.setdefault("depletedBattery", now)
                b.alarms.setdefault("upsOutputOff", now)
        else:
            b.since = None
            b.alarms.clear()
            b.charge = min(100.0, b.charge + RECHARGE_PCT_PER_H * dt / 3600.0)

    def _ups(self, dev: Device, load_w: float, now: float) -> UpsReading:
        b = self._batteries[dev.name]
        n = self.lines
        rated_w = self._rated_w(dev)
        on_battery = b.since is not None
        out_w = 0.0 if b.depleted else load_w
        ratio = out_w / rated_w
        cells = 40 if (dev.rating or 0) >= 60 else 16  # 12 V blocks
        if on_battery:
            batt_v = cells * (11.8 + 1.0 * b.charge / 100 - 0.6 * ratio)
            batt_a = -out_w / 0.95 / batt_v if out_w else 0.0
        else:
            batt_v = cells * 13.5
            batt_a = 0.5 if b.charge >= 100 else 15.0
        efficiency = 0.955 - 0.05 * max(0.0, 0.3 - ratio) / 0.3
        charging_w = 0.0 if on_battery else batt_a * batt_v
        in_w = 0.0 if on_battery else out_w / efficiency + charging_w
        key = dev.name
        imbalance = [1 + 0.03 * spread(key, "line", i) for i in range(n)]
        scale = n / sum(imbalance)
        shares = [x * scale / n for x in imbalance]
        in_v = tuple(
            0.0 if on_battery else self.utility_phase_v + 2.0 * noise(f"{key}/vin{i}", now) for i in range(n)
        )
        out_v = tuple(0.0 if b.depleted else 230.0 + 0.6 * noise(f"{key}/vout{i}", now) for i in range(n))
        out_p = tuple(out_w * s for s in shares)
        in_p = tuple(in_w * s for s in shares)
        source = "none" if b.depleted else "battery" if on_battery else "normal"
        minutes = self._full_runtime_min(dev, max(out_w, 1.0)) * b.charge / 100.0
        status = "depleted" if b.depleted else "low" if on_battery and minutes < LOW_BATTERY_MIN else "normal"
        in_f = 0.0 if on_battery else FREQUENCY_HZ + 0.05 * noise(key + "/f", now)
        return UpsReading(
            source=source,
            battery_status=status,
            seconds_on_battery=now - b.since if b.since is not None else 0.0,
            minutes_remaining=minutes,
            charge_percent=b.charge,
            battery_voltage=batt_v,
            battery_current=batt_a,
            battery_temperature=25.0 + 0.5 * spread(key, "bt") + 1.5 * ratio,
            input_voltage=in_v,
            input_frequency=in_f,
            input_current=tuple(p / (v * 0.99) if v else 0.0 for p, v in zip(in_p, in_v, strict=True)),
            input_power=in_p,
            output_voltage=out_v,
            output_frequency=0.0 if b.depleted else in_f if not on_battery else FREQUENCY_HZ,
            output_current=tuple(p / (v * LOAD_PF) if v else 0.0 for p, v in zip(out_p, out_v, strict=True)),
            output_power=out_p,
            output_load_percent=tuple(100.0 * p / (rated_w / n) for p in out_p),
            input_line_bads=b.line_bads,
            alarms=tuple(sorted(b.alarms.items(), key=lambda kv: kv[1])),
            rated_va=(dev.rating or 10.0) * 1000,
            rated_w=rated_w,
            nominal_voltage=230.0,
        )

    def _pdu(self, dev: Device, feed: PowerFeed, load_kw: float, live: bool, now: float) -> PduReading:
        phases = 3 if feed.phase == "three" else 1
        nominal = feed.voltage / math.sqrt(3) if phases == 3 else float(feed.voltage)
        pf = 0.93 + 0.05 * unit(dev.name, "pf")
        volts = tuple(
            nominal + 1.5 * spread(dev.name, "v") + 0.5 * noise(f"{dev.name}/v{i}", now) if live else 0.0
            for i in range(phases)
        )
        power = load_kw * 1000
        per_phase = tuple(power / phases for _ in range(phases))
        profile = self.racks.get(feed.rack)
        nominal_share = self._feed_weights(feed.rack, {}).get(feed.name, 0.0)
        energy = profile.energy_kwh(self.tz, COMMISSIONED, now) * nominal_share if profile else 0.0
        return PduReading(
            power_w=power,
            apparent_va=power / pf,
            power_factor=pf,
            energy_kwh=energy,
            rated_amperes=float(dev.rating or feed.breaker_amperes),
            phase_voltage=volts,
            phase_current=tuple(p / (v * pf) if v else 0.0 for p, v in zip(per_phase, volts, strict=True)),
            phase_power=per_phase,
        )

    # -- heat ------------------------------------------------------------------------------

    def _advance_heat(self, loads: Mapping[str, float], faults: Faults, dt: float) -> None:
        for location, units in self._coolers.items():
            racks = [r for r in self.racks if self.inventory.racks[r].location == location]
            heat = sum(loads[r] for r in racks)
            running = [u for u in units if u.name not in faults.crac_failed]
            capacity = sum(u.rating or 0.0 for u in running)
            room_target = K_PER_UNCOVERED_KW * max(0.0, heat - capacity)
            for rack in racks:
                local = LOCAL_RISE_C if self._nearest[rack] in faults.crac_failed and running else 0.0
                self._excess[rack] = _ease(self._excess[rack], room_target + local, dt)

    def _inlet_c(self, rack: str, load_kw: float, now: float) -> float:
        profile = self.racks[rack]
        budget = self.inventory.racks[rack].power_budget_kw or 1.0
        return (
            SUPPLY_SETPOINT_C
            + 1.0
            + 3.5 * load_kw / budget
            + profile.inlet_offset_c
            + 0.15 * noise(rack + "/inlet", now)
            + self._excess[rack]
        )

    def _humidity(self, rack: str, now: float) -> float:
        profile = self.racks[rack]
        daily = 2.0 * math.sin(2 * math.pi * (now % 86400) / 86400)
        rh = profile.humidity_base + daily + 0.4 * noise(rack + "/rh", now)
        return rh * math.exp(-0.06 * self._excess[rack])  # warmer air, same water: lower RH

    def _racks_near(self, unit_name: str, location: str) -> list[str]:
        near = [r for r, u in self._nearest.items() if u == unit_name]
        return near or [r for r in self.racks if self.inventory.racks[r].location == location]

    def _cooling(
        self,
        dev: Device,
        faults: Faults,
        loads: Mapping[str, float],
        inlet: Mapping[str, float],
        now: float,
    ) -> CoolingReading:
        location = self._location_of(dev)
        units = self._coolers.get(location, [dev])
        running = [u for u in units if u.name not in faults.crac_failed]
        near = self._racks_near(dev.name, location)
        near_inlet = sum(inlet[r] for r in near) / len(near) if near else SUPPLY_SETPOINT_C + 3
        if dev.name in faults.crac_failed:
            return CoolingReading(False, 0.0, 0.0, near_inlet, near_inlet - 0.5, near_inlet + 3.0, 0.0, 0.0, 1)
        heat = sum(loads[r] for r in self.racks if self.inventory.racks[r].location == location)
        rating = dev.rating or 25.0
        demand = heat / len(running)
        output = min(rating, demand)
        room_excess = min((self._excess[r] for r in near), default=0.0)
        supply = SUPPLY_SETPOINT_C + 0.3 * spread(dev.name, "sp") + 0.1 * noise(dev.name, now) + 0.5 * room_excess
        fan = min(100.0, 30.0 + 70.0 * output / rating)
        return CoolingReading(
            running=True,
            output_kw=output,
            demand_kw=demand,
            rack_inlet_c=near_inlet,
            supply_air_c=supply,
            return_air_c=supply + 6.0 + 8.0 * output / rating,
            fan_percent=fan,
            airflow_cfm=MAX_AIRFLOW_CFM * fan / 100.0,
            alarms=0,
        )

    def _probe(self, dev: Device, inlet: Mapping[str, float], now: float) -> ProbeReading:
        if dev.rack is not None and dev.rack in self.racks:
            return ProbeReading(f"{dev.rack} inlet", inlet[dev.rack], self._humidity(dev.rack, now))
        location = self._location_of(dev)
        racks = [r for r in self.racks if self.inventory.racks[r].location == location]
        if not racks:
            return ProbeReading(f"{location} room", SUPPLY_SETPOINT_C + 3.0, 45.0)
        temp = sum(inlet[r] for r in racks) / len(racks)
        rh = sum(self._humidity(r, now) for r in racks) / len(racks)
        return ProbeReading(f"{dev.rack or location} room", temp, rh)
