"""One device as the device page and /api/devices/<name> show it.

Built from the inventory's Device field by field: the SNMP credentials (a
community, v3 keys) are never read here, so they cannot reach a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcops.types import Sample

from . import fmt
from .i18n import class_text, gettext, metric_text
from .snapshot import DOWN, UP, Snapshot
from .summary import status_label


@dataclass
class PollView:
    ts: float
    time_text: str
    duration_text: str
    up: bool
    result_label: str
    samples: int
    error: str


@dataclass
class ReadingView:
    id: str
    metric: str
    metric_label: str
    labels: dict[str, str]
    value: float
    unit: str
    display: str
    text: str
    state_label: str
    ts: float
    time_text: str
    fresh: bool


@dataclass
class DeviceView:
    name: str
    label: str
    device_class: str
    class_label: str
    rack: str | None
    position: int | None
    location: str
    location_label: str
    address: str
    profile: str
    profiles: list[str]
    rating: float | None
    status: str
    status_label: str
    poll: PollView | None
    readings: list[ReadingView] = field(default_factory=list)


def series_id(sample: Sample) -> str:
    """`metric{label="value",…}`, the series' name as Prometheus would write it."""
    if not sample.labels:
        return sample.metric
    inner = ",".join(f'{k}="{v}"' for k, v in sample.labels)
    return f"{sample.metric}{{{inner}}}"


def reading_view(snap: Snapshot, s: Sample, lang: str) -> ReadingView:
    tz = snap.inventory.site.timezone
    return ReadingView(
        id=series_id(s), metric=s.metric, metric_label=metric_text(s.metric, lang),
        labels=dict(s.labels), value=s.value, unit=s.unit, display=fmt.reading(s, lang),
        text=s.text, state_label=fmt.state(s, lang), ts=s.ts, time_text=fmt.when(s.ts, tz),
        fresh=snap.now - s.ts <= snap.stale_after,
    )


def device_view(snap: Snapshot, name: str, lang: str) -> DeviceView:
    inv = snap.inventory
    dev = inv.devices[name]
    st = snap.states[name]
    report = st.report
    poll = None
    if report is not None:
        poll = PollView(
            ts=report.ts, time_text=fmt.when(report.ts, inv.site.timezone),
            duration_text=fmt.seconds(report.duration, lang), up=report.up,
            result_label=gettext(UP if report.up else DOWN, lang),
            samples=report.samples, error=report.error,
        )
    location = inv.locations.get(dev.location)
    return DeviceView(
        name=dev.name, label=dev.label, device_class=dev.device_class,
        class_label=class_text(dev.device_class, lang), rack=dev.rack, position=dev.position,
        location=dev.location, location_label=location.label if location else dev.location,
        address=dev.address, profile=dev.profile,
        profiles=list(report.profiles) if report else [], rating=dev.rating,
        status=st.status, status_label=status_label(st, lang), poll=poll,
        readings=[reading_view(snap, s, lang) for s in snap.samples.get(name, [])],
    )
