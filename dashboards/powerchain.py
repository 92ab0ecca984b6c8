"""The power chain as the panel shows it: utility → UPS → panels → feeds → PDUs → racks.

Every figure is in kW (or amperes) from fresh readings only; an unknown
value is None, never zero. The failover answer for a rack: if feed A (or B)
trips, its PDU's load moves to the other side, which then carries the
rack's whole draw; it holds when that draw stays within the other feed's
breaker rating (capacity = volts × breaker amperes × phases). Above 80 %
of the rating it holds but is `tight` (a breaker is meant for 80 %
continuous load). The same question is asked of each UPS for the whole IT
load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from dcops.types import METER, UPS

from .i18n import gettext
from .snapshot import PDU_POWER, Snapshot

UPS_POWER: Final = "ups_output_power_watts"
UPS_LOAD: Final = "ups_output_load_ratio"
# Metrics that read a whole-facility (utility) meter, in the order they are tried.
FACILITY_POWER: Final = ("meter_power_watts", "entity_power_watts")
UPS_POWER_FACTOR: Final = 0.9  # kW = kVA × 0.9 when only the kVA rating is known
CONTINUOUS: Final = 0.8  # the share of a breaker's rating it may carry continuously

OK: Final = "ok"
TIGHT: Final = "tight"
OVER: Final = "over"
UNKNOWN: Final = "unknown"


def _kw(watts: float | None) -> float | None:
    return None if watts is None else watts / 1000


def _pct(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole * 100


def verdict(load: float | None, capacity: float | None) -> str:
    if load is None or not capacity:
        return UNKNOWN
    if load > capacity:
        return OVER
    return TIGHT if load > capacity * CONTINUOUS else OK


@dataclass
class FeedView:
    name: str
    rack: str
    side: str
    panel: str
    panel_label: str
    ups: str
    voltage: int
    breaker_amperes: int
    capacity_kw: float
    load_kw: float | None
    load_percent: float | None
    headroom_kw: float | None
    pdus: list[str]


@dataclass
class Failover:
    """If `failed` trips, `carrier` takes the rack's whole draw."""

    failed: str
    carrier: str
    load_kw: float | None
    capacity_kw: float | None
    load_percent: float | None
    amperes: float | None
    breaker_amperes: int | None
    verdict: str
    verdict_label: str


@dataclass
class RackPower:
    name: str
    power_kw: float | None
    budget_kw: float
    headroom_kw: float | None
    load_percent: float | None
    feeds: list[FeedView] = field(default_factory=list)
    failover: list[Failover] = field(default_factory=list)


@dataclass
class UpsPower:
    name: str
    label: str
    rating_kva: float | None
    capacity_kw: float | None
    output_kw: float | None
    load_percent: float | None
    headroom_kw: float | None
    panels: list[str]
    failover: Failover | None


@dataclass
class PowerView:
    utility: str
    utility_label: str
    facility_kw: float | None
    facility_source: str
    it_load_kw: float | None
    pue: float | None
    ups: list[UpsPower] = field(default_factory=list)
    racks: list[RackPower] = field(default_factory=list)


def N_(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


VERDICTS: Final = {OK: N_("carries it"), TIGHT: N_("carries it, above 80 %"), OVER: N_("overloads"),
                   UNKNOWN: N_("no data")}


def verdict_label(v: str, lang: str) -> str:
    return gettext(VERDICTS[v], lang)


def feed_views(snap: Snapshot, rack: str) -> list[FeedView]:
    inv = snap.inventory
    views = []
    for feed in snap.feeds_of(rack):
        pdus = snap.pdus_on(feed.name)
        load = _kw(snap.value(pdus, PDU_POWER, sum))
        cap = feed.capacity_watts / 1000
        panel = inv.panels.get(feed.panel)
        views.append(FeedView(
            name=feed.name, rack=rack, side=feed.side, panel=feed.panel,
            panel_label=panel.label if panel and panel.label else feed.panel, ups=panel.ups if panel else "",
            voltage=feed.voltage, breaker_amperes=feed.breaker_amperes, capacity_kw=cap, load_kw=load,
            load_percent=_pct(load, cap), headroom_kw=None if load is None else cap - load,
            pdus=[d.name for d in pdus]))
    return views


def rack_failover(feeds: list[FeedView], total_kw: float | None, lang: str) -> list[Failover]:
    answers = []
    for failed in feeds:
        for carrier in feeds:
            if carrier is failed:
                continue
            phases = round(carrier.capacity_kw * 1000 / (carrier.voltage * carrier.breaker_amperes))
            amps = None if total_kw is None else total_kw * 1000 / (carrier.voltage * max(phases, 1))
            v = verdict(total_kw, carrier.capacity_kw)
            answers.append(Failover(
                failed=failed.side, carrier=carrier.side, load_kw=total_kw, capacity_kw=carrier.capacity_kw,
                load_percent=_pct(total_kw, carrier.capacity_kw), amperes=amps,
                breaker_amperes=carrier.breaker_amperes, verdict=v, verdict_label=verdict_label(v, lang)))
    return answers


def rack_power(snap: Snapshot, rack: str, lang: str) -> RackPower:
    r = snap.inventory.racks[rack]
    feeds = feed_views(snap, rack)
    loads = [f.load_kw for f in feeds]
    total = sum(x for x in loads if x is not None) if feeds and None not in loads else None
    if not feeds:
        total = _kw(snap.rack_power_watts(rack))
    return RackPower(
        name=rack, power_kw=total, budget_kw=r.power_budget_kw,
        headroom_kw=None if total is None else r.power_budget_kw - total,
        load_percent=_pct(total, r.power_budget_kw), feeds=feeds,
        failover=rack_failover(feeds, total, lang))


def facility_power(snap: Snapshot, manual_kw: float | None) -> tuple[float | None, str]:
    """The utility meter's reading: a metered `meter` device, else an operator's entry, else None."""
    meters = snap.inventory.devices_of(METER)
    for metric in FACILITY_POWER:
        watts = snap.value(meters, metric, sum)
        if watts is not None:
            return watts / 1000, "meter"
    if manual_kw is not None:
        return manual_kw, "manual"
    return None, ""


def power_view(snap: Snapshot, lang: str, manual_kw: float | None = None) -> PowerView:
    inv = snap.inventory
    racks = [rack_power(snap, name, lang) for name in sorted(inv.racks) if inv.racks[name].in_use
             or snap.feeds_of(name)]
    it_load = _kw(snap.it_load_watts())
    facility, source = facility_power(snap, manual_kw)
    ups_list = inv.devices_of(UPS)
    views = []
    for dev in ups_list:
        out = _kw(snap.value([dev], UPS_POWER, sum))
        ratio = snap.value([dev], UPS_LOAD)
        cap = dev.rating * UPS_POWER_FACTOR if dev.rating else None
        views.append(UpsPower(
            name=dev.name, label=dev.label, rating_kva=dev.rating, capacity_kw=cap, output_kw=out,
            load_percent=ratio * 100 if ratio is not None else _pct(out, cap),
            headroom_kw=None if out is None or cap is None else cap - out,
            panels=[p.name for p in inv.panels.values() if p.ups == dev.name], failover=None))
    for view in views:  # if this UPS fails, can the others carry everything?
        others = [v for v in views if v is not view]
        if not others:
            continue
        loads = [v.output_kw for v in views]
        total = sum(x for x in loads if x is not None) if None not in loads else None
        caps = [v.capacity_kw for v in others]
        cap = sum(c for c in caps if c is not None) if None not in caps else None
        v = verdict(total, cap)
        view.failover = Failover(failed=view.name, carrier=", ".join(o.name for o in others), load_kw=total,
                                 capacity_kw=cap, load_percent=_pct(total, cap), amperes=None,
                                 breaker_amperes=None, verdict=v, verdict_label=verdict_label(v, lang))
    return PowerView(
        utility=inv.utility.name if inv.utility else "", utility_label=inv.utility.label if inv.utility else "",
        facility_kw=facility, facility_source=source, it_load_kw=it_load,
        pue=facility / it_load if facility is not None and it_load else None, ups=views, racks=racks)
