"""Prometheus exposition of the latest samples, with prometheus-client.

A custom Collector (like client_python's `Collector.collect()`) reads the
same latest values the panel shows, so /metrics and the pages never
disagree. Every sample becomes `dcops_<metric>` labelled with the device,
its class, rack and location plus the profile's index labels; a metric
ending in `_total` is a counter. Each device's last poll is reported like
snmp_exporter's scrape metrics: `dcops_up`, `dcops_poll_duration_seconds`,
`dcops_poll_samples`, `dcops_poll_timestamp_seconds`. Trap events, when the
source stores them, are `dcops_trap_events_total{device,kind,severity}` and
`dcops_trap_last_event_timestamp_seconds{device,kind}`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from dcops.types import PollReport, Sample
from inventory.model import Inventory

PREFIX = "dcops_"
DEVICE_LABELS = ("device", "class", "rack", "location")


class LatestSource(Protocol):
    def latest(self, device: str | None = None, metric: str | None = None) -> list[Sample]: ...

    def reports(self) -> dict[str, PollReport]: ...


class SampleCollector(Collector):
    def __init__(self, source: LatestSource, inventory: Inventory) -> None:
        self.source = source
        self.inventory = inventory

    def _device_labels(self, name: str) -> list[str]:
        dev = self.inventory.devices.get(name)
        if dev is None:
            return [name, "", "", ""]
        return [name, dev.device_class, dev.rack or "", dev.location]

    def collect(self) -> Iterator[Metric]:
        by_metric: Mapping[str, list[Sample]] = defaultdict(list)
        for s in self.source.latest():
            by_metric[s.metric].append(s)  # type: ignore[index]
        for metric in sorted(by_metric):
            samples = by_metric[metric]
            extra = sorted({k for s in samples for k, _ in s.labels} - set(DEVICE_LABELS))
            names = [*DEVICE_LABELS, *extra]
            unit = samples[0].unit
            doc = f"{metric.replace('_', ' ')} ({unit or 'value'}), as read from the device"
            family: GaugeMetricFamily | CounterMetricFamily
            if metric.endswith("_total"):
                family = CounterMetricFamily(PREFIX + metric[: -len("_total")], doc, labels=names)
            else:
                family = GaugeMetricFamily(PREFIX + metric, doc, labels=names)
            for s in samples:
                values = self._device_labels(s.device) + [s.label(k) for k in extra]
                family.add_metric(values, s.value)
            yield family
        reports = self.source.reports()
        up = GaugeMetricFamily(PREFIX + "up", "1 if the device's last poll succeeded", labels=DEVICE_LABELS)
        dur = GaugeMetricFamily(PREFIX + "poll_duration_seconds", "duration of the device's last poll",
                                labels=DEVICE_LABELS)
        count = GaugeMetricFamily(PREFIX + "poll_samples", "samples returned by the device's last poll",
                                  labels=DEVICE_LABELS)
        when = GaugeMetricFamily(PREFIX + "poll_timestamp_seconds", "when the device was last polled",
                                 labels=DEVICE_LABELS)
        for name, r in sorted(reports.items()):
            labels = self._device_labels(name)
            up.add_metric(labels, 1.0 if r.up else 0.0)
            dur.add_metric(labels, r.duration)
            count.add_metric(labels, float(r.samples))
            when.add_metric(labels, r.ts)
        yield from (up, dur, count, when)


class EventSource(Protocol):
    def event_counts(self) -> list[tuple[str, str, str, int, float]]: ...


class EventCollector(Collector):
    """Trap events per device, kind and severity, from the store's never-pruned counts."""

    def __init__(self, source: EventSource, inventory: Inventory) -> None:
        self.source = source
        self.devices = SampleCollector(source, inventory)  # type: ignore[arg-type]  # for its device labels

    def collect(self) -> Iterator[Metric]:
        total = CounterMetricFamily(PREFIX + "trap_events", "notifications from the device turned into events",
                                    labels=[*DEVICE_LABELS, "kind", "severity"])
        last = GaugeMetricFamily(PREFIX + "trap_last_event_timestamp_seconds",
                                 "when the device last sent a notification of this kind",
                                 labels=[*DEVICE_LABELS, "kind"])
        newest: dict[tuple[str, str], float] = {}
        for device, kind, severity, count, ts in self.source.event_counts():
            total.add_metric([*self.devices._device_labels(device), kind, severity], float(count))
            newest[(device, kind)] = max(ts, newest.get((device, kind), 0.0))
        for (device, kind), ts in sorted(newest.items()):
            last.add_metric([*self.devices._device_labels(device), kind], ts)
        yield from (total, last)


def make_registry(source: LatestSource, inventory: Inventory) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(SampleCollector(source, inventory))
    if hasattr(source, "event_counts"):
        registry.register(EventCollector(source, inventory))  # type: ignore[arg-type]
    return registry


def render_metrics(source: LatestSource, inventory: Inventory) -> tuple[bytes, str]:
    """The /metrics body and content type."""
    return generate_latest(make_registry(source, inventory)), CONTENT_TYPE_LATEST
