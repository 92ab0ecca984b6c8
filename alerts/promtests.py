"""promtool unit tests generated from our rules: each exported rule fires on a reading that breaks it,
with the summary our engine would write; a rule with hysteresis keeps firing between its thresholds and
stops past the clear one. `promtool test rules` then proves the export means what the rules mean."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from inventory.model import Device, Inventory

from . import template
from .export import LATCH, PROM_LABEL, alert_name, metric_name, metric_text
from .model import ABOVE, BELOW, EQUALS, IMBALANCE, STALE, Rule

STEP = 30  # seconds between samples and evaluations


def _device(rule: Rule, inventory: Inventory) -> Device | None:
    for dev in sorted(inventory.devices.values(), key=lambda d: d.name):
        labels = {"device": dev.name, "class": dev.device_class, "rack": dev.rack or "", "room": dev.location}
        if rule.of_rating and not dev.rating:
            continue
        if all(labels.get(k, v[0]) in v for k, v in rule.match.items()):
            return dev
    return None


def _series_labels(rule: Rule, dev: Device) -> dict[str, str]:
    labels = {"device": dev.name, "class": dev.device_class, "rack": dev.rack or "", "location": dev.location}
    for k, values in rule.match.items():
        labels.setdefault(PROM_LABEL.get(k, k), values[0])
    return {k: v for k, v in labels.items() if v}  # Prometheus has no empty labels


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _values(rule: Rule, scale: float) -> tuple[float, float, float]:
    """A value that fires, one between the thresholds, one past the clear threshold."""
    thr, clr = rule.threshold * scale, rule.clear * scale
    ratio = rule.metric.endswith("_ratio")
    # ratios in whole percent: `{value:.0%}` and Prometheus' humanizePercentage then read the same
    middle = round((thr + clr) / 2, 2)
    if rule.kind == ABOVE:
        fire = round(thr + (1 - thr) / 2, 2) if ratio and thr < 1 else thr + max(1.5, round(abs(thr) * 0.1))
        return fire, middle, clr - (0.05 if ratio else 1)
    if rule.kind == BELOW:
        fire = round(thr / 2, 2) if ratio else thr - max(1.5, round(abs(thr) * 0.1))
        return fire, middle, clr + (0.05 if ratio else 1)
    return rule.values[0] if rule.values else 0.0, math.nan, math.nan


def _annotations(rule: Rule, labels: dict[str, str], value: float, scale: float) -> dict[str, str]:
    out = {"summary": _summary(rule, labels, value, scale)}
    if rule.description:
        out["description"] = rule.description
    if rule.latch:
        out["latch"] = LATCH
    return out


def _summary(rule: Rule, labels: dict[str, str], value: float, scale: float) -> str:
    named = {k: labels.get(PROM_LABEL.get(k, k), "") for k in ("device", "class", "rack", "room")}
    named.update({k: v for k, v in labels.items() if k not in ("location",)})
    named.update(rule=rule.name, severity=rule.severity, metric=metric_text(rule))
    return template.render(rule.summary, named, {"value": value, "threshold": rule.threshold * scale,
                                                 "clear": rule.clear * scale})


def _case(rule: Rule, inventory: Inventory, interval: float) -> dict[str, Any] | None:
    dev = _device(rule, inventory)
    if dev is None:
        return None
    scale = dev.rating or 1.0 if rule.of_rating else 1.0
    labels = _series_labels(rule, dev)
    rule_labels = {"severity": rule.severity, "category": rule.category, "dcops_rule": rule.name}
    if rule.when != "always":
        rule_labels["when"] = rule.when
    n = max(4, math.ceil((rule.for_ + 2 * STEP) / STEP))  # samples until it fires for sure
    fire, middle, past = _values(rule, scale)
    series: list[dict[str, str]] = []
    checks: list[dict[str, Any]] = []
    name = alert_name(rule.name)
    if rule.kind == STALE:
        n = math.ceil(rule.intervals * interval / STEP) + 2
        series.append({"series": _selector("dcops_poll_timestamp_seconds", labels), "values": f"0x{n + 2}"})
        exp = {**labels, **rule_labels}
        checks.append({"eval_time": f"{n * STEP}s", "alertname": name, "exp_alerts": [
            {"exp_labels": exp, "exp_annotations": _annotations(rule, labels, 0, 1)}]})
        return {"interval": f"{STEP}s", "input_series": series, "alert_rule_test": checks}
    if rule.kind == IMBALANCE:
        for i, v in enumerate((10.0, 5.0)):
            series.append({"series": _selector(metric_name(rule), {**labels, rule.across: str(i + 1)}),
                           "values": f"{v:g}x{n + 2}"})
        checks.append({"eval_time": f"{n * STEP}s", "alertname": name, "exp_alerts": [
            {"exp_labels": {**labels, **rule_labels}, "exp_annotations": _annotations(rule, labels, 0.5, 1)}]})
        return {"interval": f"{STEP}s", "input_series": series, "alert_rule_test": checks}
    if rule.aggregate:
        others = [d for d in inventory.devices.values() if d.device_class == dev.device_class and d.name != dev.name]
        group = {PROM_LABEL.get(b, b): labels[PROM_LABEL.get(b, b)] for b in rule.by}
        for d in [dev, *others[:1]]:
            labels_d = _series_labels(rule, d)
            series.append({"series": _selector(metric_name(rule), labels_d), "values": f"{fire:g}x{n + 2}"})
        checks.append({"eval_time": f"{n * STEP}s", "alertname": name, "exp_alerts": [
            {"exp_labels": {**group, **rule_labels}, "exp_annotations": _annotations(rule, group, 0, 1)}]})
        return {"interval": f"{STEP}s", "input_series": series, "alert_rule_test": checks}
    hysteresis = rule.kind in (ABOVE, BELOW) and rule.clear != rule.threshold
    values = f"{fire:g}x{n}" + (f" {middle:g}x3 {past:g}x3" if hysteresis else "")
    series.append({"series": _selector(metric_name(rule), labels), "values": values})
    exp = {**labels, **rule_labels}
    checks.append({"eval_time": f"{n * STEP}s", "alertname": name, "exp_alerts": [
        {"exp_labels": exp, "exp_annotations": _annotations(rule, labels, fire, scale)}]})
    if hysteresis:  # between the thresholds: still firing; past the clear threshold: over
        checks.append({"eval_time": f"{(n + 3) * STEP}s", "alertname": name, "exp_alerts": [
            {"exp_labels": exp, "exp_annotations": _annotations(rule, labels, middle, scale)}]})
        checks.append({"eval_time": f"{(n + 7) * STEP}s", "alertname": name, "exp_alerts": []})
    return {"interval": f"{STEP}s", "input_series": series, "alert_rule_test": checks}


def unit_tests(rules: Sequence[Rule], inventory: Inventory, interval: float) -> dict[str, Any]:
    cases = [c for r in rules if (c := _case(r, inventory, interval)) is not None]
    assert all(r.kind in (ABOVE, BELOW, EQUALS, IMBALANCE, STALE) for r in rules)
    return {"rule_files": ["dcops-rules.yml"], "evaluation_interval": f"{STEP}s", "tests": cases}
