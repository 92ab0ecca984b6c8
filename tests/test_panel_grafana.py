"""The Grafana dashboards: generated files match their generator, and every query names a metric dcops exports.

What dcops exports: `dcops_<metric>` for every metric a device profile can
yield (collectors/profiles/*.yml) plus the poll metrics of /metrics
(outputs/prometheus.py); in InfluxDB the metric's name as the measurement
with field `value`, and `dcops_poll` with `up`, `duration_seconds`, `samples`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.grafana_gen import OUT, render

PROFILES = Path(__file__).resolve().parent.parent / "collectors" / "profiles"
POLL_METRICS = {"dcops_up", "dcops_poll_duration_seconds", "dcops_poll_samples", "dcops_poll_timestamp_seconds"}
POLL_FIELDS = {"up", "duration_seconds", "samples"}


def metric_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "metric" and isinstance(v, str):
                yield v
            else:
                yield from metric_names(v)
    elif isinstance(node, list):
        for item in node:
            yield from metric_names(item)


@lru_cache(maxsize=1)
def profile_metrics() -> frozenset[str]:
    names: set[str] = set()
    for path in PROFILES.rglob("*.yml"):
        names |= set(metric_names(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return frozenset(names)


def exported() -> set[str]:
    """Every series name /metrics can carry (a `_total` metric is a counter: the same name)."""
    return {f"dcops_{m}" for m in profile_metrics()} | POLL_METRICS


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(OUT.glob("*.json"))}


def test_the_committed_dashboards_are_what_the_generator_writes() -> None:
    assert {p.name: p.read_text(encoding="utf-8") for p in OUT.glob("*.json")} == render()


def test_five_dashboards_for_each_data_source() -> None:
    names = set(dashboards())
    for area in ("room", "racks", "power", "cooling", "poller"):
        assert {f"{area}-prometheus.json", f"{area}-influxdb.json"} <= names


def test_the_profiles_know_the_metrics_the_panel_reads() -> None:
    assert {"env_temperature_celsius", "pdu_power_watts", "ups_output_load_ratio",
            "cooling_supply_air_temperature_celsius"} <= profile_metrics()


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_every_query_names_an_exported_metric(name: str) -> None:
    board = dashboards()[name]
    names = exported()
    targets = [t for p in board["panels"] for t in p["targets"]]
    assert targets
    for target in targets:
        if "expr" in target:  # PromQL
            used = set(re.findall(r"\b(dcops_[a-z0-9_]+)", target["expr"]))
            assert used, target["expr"]
            assert used <= names, (name, used - names)
        else:  # Flux
            (measurement,) = re.findall(r'r\._measurement == "([^"]+)"', target["query"])
            (field,) = re.findall(r'r\._field == "([^"]+)"', target["query"])
            if measurement == "dcops_poll":
                assert field in POLL_FIELDS, (name, field)
            else:
                assert f"dcops_{measurement}" in names and field == "value", (name, measurement, field)


def test_an_unknown_metric_would_be_caught() -> None:
    assert "dcops_inlet_temprature_celsius" not in exported()
