"""The figures each page shows, computed from a Snapshot in one language.

Pages render these objects and /api/* returns them as JSON (`asdict`), so the
first paint and every refresh by panel.js show the same numbers. Fields are
in display units (kW, minutes, percent) so the script only rounds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcops.types import COOLING, DOOR, LEAK, SMOKE, UPS

from . import fmt
from .i18n import class_text, gettext, state_text, ups_source_text
from .snapshot import DOWN, NEVER, UP, Counts, DeviceState, Snapshot

SENSOR_CLASSES = (LEAK, SMOKE, DOOR)
CONTACT_OK = "normal"  # env_contact_state 2


def status_label(st: DeviceState, lang: str) -> str:
    """Says which kind of 'not up' it is: down, stale (with the limit) or never polled."""
    if st.status == NEVER:
        return gettext("never polled", lang)
    return gettext(st.status, lang)


def _pct(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100


def _kw(watts: float | None) -> float | None:
    return None if watts is None else watts / 1000


@dataclass
class RackTemp:
    rack: str
    celsius: float


@dataclass
class UpsView:
    name: str
    label: str
    status: str
    source: str
    source_label: str
    on_battery: bool
    runtime_minutes: float | None
    charge_percent: float | None
    load_percent: float | None


@dataclass
class CoolingView:
    name: str
    label: str
    status: str
    mode: str
    mode_label: str
    supply_celsius: float | None
    return_celsius: float | None


@dataclass
class SensorView:
    name: str
    label: str
    device_class: str
    class_label: str
    status: str
    state: str
    state_label: str
    alarm: bool


@dataclass
class Problem:
    name: str
    label: str
    device_class: str
    status: str
    status_label: str
    error: str
    last_poll: str


@dataclass
class Overview:
    ts: float
    time_text: str
    health: str
    devices: Counts
    never_polled: int  # of devices.stale, how many have no report at all
    stale_after: float
    inlet_min: RackTemp | None
    inlet_max: RackTemp | None
    it_load_kw: float | None
    ups: list[UpsView] = field(default_factory=list)
    cooling: list[CoolingView] = field(default_factory=list)
    sensors: list[SensorView] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def health(counts: Counts) -> str:
    return "ok" if counts.down == 0 and counts.stale == 0 else "degraded"


def overview(snap: Snapshot, lang: str) -> Overview:
    inv = snap.inventory
    tz = inv.site.timezone
    temps = [RackTemp(name, t) for name in inv.racks
             if (t := snap.rack_inlet(name)) is not None]
    counts = snap.counts
    return Overview(
        ts=snap.now,
        time_text=fmt.when(snap.now, tz),
        health=health(counts),
        devices=counts,
        never_polled=sum(1 for st in snap.states.values() if st.status == NEVER),
        stale_after=snap.stale_after,
        inlet_min=min(temps, key=lambda r: r.celsius, default=None),
        inlet_max=max(temps, key=lambda r: r.celsius, default=None),
        it_load_kw=_kw(snap.it_load_watts()),
        ups=[ups_view(snap, d.name, lang) for d in inv.devices_of(UPS)],
        cooling=[cooling_view(snap, d.name, lang) for d in inv.devices_of(COOLING)],
        sensors=[sensor_view(snap, d.name, lang) for d in inv.devices.values()
                 if d.device_class in SENSOR_CLASSES],
        problems=[
            Problem(name=st.name, label=inv.devices[st.name].label,
                    device_class=inv.devices[st.name].device_class, status=st.status,
                    status_label=status_label(st, lang),
                    error=st.report.error if st.report else "",
                    last_poll=fmt.when(st.report.ts if st.report else None, tz))
            for st in sorted(snap.states.values(), key=lambda s: (s.status != DOWN, s.name))
            if st.status != UP
        ],
    )


def ups_view(snap: Snapshot, name: str, lang: str) -> UpsView:
    dev = snap.inventory.devices[name]
    source = snap.text(name, "ups_output_source")
    runtime = snap.value([dev], "ups_battery_runtime_seconds")
    return UpsView(
        name=name, label=dev.label, status=snap.states[name].status, source=source,
        source_label=ups_source_text(source, lang) if source else gettext("No data", lang),
        on_battery=source == "battery",
        runtime_minutes=None if runtime is None else runtime / 60,
        charge_percent=_pct(snap.value([dev], "ups_battery_charge_ratio", min)),
        load_percent=_pct(snap.value([dev], "ups_output_load_ratio")),
    )


def cooling_view(snap: Snapshot, name: str, lang: str) -> CoolingView:
    dev = snap.inventory.devices[name]
    mode = snap.text(name, "cooling_operate_mode")
    return CoolingView(
        name=name, label=dev.label, status=snap.states[name].status, mode=mode,
        mode_label=state_text(mode, lang) if mode else gettext("No data", lang),
        supply_celsius=snap.value([dev], "cooling_supply_air_temperature_celsius"),
        return_celsius=snap.value([dev], "cooling_return_air_temperature_celsius"),
    )


def sensor_view(snap: Snapshot, name: str, lang: str) -> SensorView:
    dev = snap.inventory.devices[name]
    states = [s.text for s in snap.fresh(name, "env_contact_state")]
    bad = [t for t in states if t != CONTACT_OK]
    state = bad[0] if bad else (CONTACT_OK if states else "")
    return SensorView(
        name=name, label=dev.label, device_class=dev.device_class,
        class_label=class_text(dev.device_class, lang), status=snap.states[name].status,
        state=state, state_label=state_text(state, lang) if state else gettext("No data", lang),
        alarm=bool(bad),
    )


@dataclass
class RackView:
    name: str
    label: str
    location: str
    row: int
    column: int
    u_height: int
    status: str
    status_label: str
    inlet_celsius: float | None
    humidity_percent: float | None
    power_kw: float | None
    budget_kw: float
    load_percent: float | None
    devices: int


def rack_view(snap: Snapshot, name: str, lang: str) -> RackView:
    rack = snap.inventory.racks[name]
    power = _kw(snap.rack_power_watts(name))
    return RackView(
        name=name, label=rack.label, location=rack.location, row=rack.row, column=rack.column,
        u_height=rack.u_height, status=rack.status, status_label=gettext(rack.status, lang),
        inlet_celsius=snap.rack_inlet(name), humidity_percent=_pct(snap.rack_humidity(name)),
        power_kw=power, budget_kw=rack.power_budget_kw,
        load_percent=None if power is None or not rack.power_budget_kw
        else power / rack.power_budget_kw * 100,
        devices=len(snap.inventory.devices_in(name)),
    )


def racks(snap: Snapshot, lang: str) -> list[RackView]:
    ordered = sorted(snap.inventory.racks.values(), key=lambda r: (r.location, r.row, r.column))
    return [rack_view(snap, r.name, lang) for r in ordered]

