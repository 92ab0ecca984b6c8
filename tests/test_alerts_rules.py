"""Alert rules are read strictly: every bad rule names file, line and rule; the good rules keep working."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from alerts.matchers import MatcherError, parse_matchers
from alerts.rules import RULES_DIR, load_rules

# The metrics and index labels the profiles give, fixed here so that new profiles do not change the messages.
KNOWN = {"env_temperature_celsius": {"sensor", "sensor_index"}, "env_humidity_ratio": {"sensor", "sensor_index"},
         "env_contact_state": {"sensor", "sensor_index"}, "pdu_phase_current_amperes": {"phase"}, "up": set()}
GOOD = """\
- name: good
  category: cooling
  severity: warning
  metric: env_temperature_celsius
  above: 27
  summary: "{rack} {value:.1f}"
"""


def load(tmp_path: Path, bad: str) -> tuple[list[str], list[str]]:
    """A file with one good rule and `bad`; returns (rule names, error texts)."""
    text = "rules:\n" + textwrap.indent(GOOD, "") + textwrap.dedent(bad)
    (tmp_path / "r.yml").write_text(text, encoding="utf-8")
    rs = load_rules(tmp_path, known=KNOWN)
    return [r.name for r in rs.rules], [str(e).replace(str(tmp_path) + "/", "") for e in rs.errors]


def test_reference_rules_load_without_error() -> None:
    rs = load_rules(RULES_DIR)
    assert rs.errors == []
    names = {r.name for r in rs.rules}
    assert {"inlet-temperature-high", "inlet-temperature-critical", "inlet-temperature-low",
            "inlet-temperature-very-low", "humidity-high", "humidity-low", "ups-on-battery", "utility-outage",
            "ups-battery-runtime-low", "ups-load-high", "pdu-current-high", "ups-phase-imbalance",
            "pdu-phase-imbalance", "crac-alarm", "crac-stopped", "water-leak", "smoke", "door-open-after-hours",
            "device-down", "stale-reading"} <= names
    by = rs.by_name()
    assert (by["inlet-temperature-high"].threshold, by["inlet-temperature-high"].clear) == (27, 26.5)
    assert (by["inlet-temperature-critical"].threshold, by["inlet-temperature-very-low"].threshold) == (32, 15)
    assert by["water-leak"].latch and by["smoke"].latch and not by["ups-on-battery"].latch
    assert by["inlet-temperature-high"].for_ == 120


BAD = [
    ("unknown label",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       match: {colour: red}
       above: 27
       summary: x
     """,
     "r.yml:12: rule bad.match.colour: unknown label (allowed: class, device, rack, room, sensor, sensor_index)"),
    ("threshold is not a number",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: hot
       summary: x
     """,
     "r.yml:12: rule bad.above: expected a number, got a string ('hot')"),
    ("clear above the firing threshold",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       clear: 28
       summary: x
     """,
     "r.yml:13: rule bad.clear: clear threshold 28 must be at or below the firing threshold 27"),
    ("clear below a low threshold",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       below: 18
       clear: 17
       summary: x
     """,
     "r.yml:13: rule bad.clear: clear threshold 17 must be at or above the firing threshold 18"),
    ("a percentage where a ratio is meant",
     """\
     - name: bad
       category: environment
       severity: warning
       metric: env_humidity_ratio
       above: 60
       summary: x
     """,
     "r.yml:12: rule bad.above: 60 is not a ratio (write 0.6 for 60%)"),
    ("template names an unknown field",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       summary: "{rack} is {temperature}"
     """,
     "r.yml:13: rule bad.summary: does not render: unknown field {temperature} (allowed: class, clear, device, "
     "metric, rack, room, rule, sensor, sensor_index, severity, threshold, value)"),
    ("template with an unbalanced brace",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       summary: "{rack is hot"
     """,
     "r.yml:13: rule bad.summary: does not render: expected '}' before end of string"),
    ("template formats a label as a number",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       summary: "{rack:.1f}"
     """,
     "r.yml:13: rule bad.summary: does not render: {rack:.1f}: only value, threshold and clear take a format spec"),
    ("unknown metric",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temprature_celsius
       above: 27
       summary: x
     """,
     "r.yml:11: rule bad.metric: unknown metric 'env_temprature_celsius' (no profile produces it)"),
    ("two conditions",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       below: 18
       summary: x
     """,
     "r.yml:8: rule bad: give exactly one condition of: above, below, equals, imbalance, stale, event "
     "(found above, below)"),
    ("unknown key",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       threshold: 3
       summary: x
     """,
     "r.yml:13: rule bad.threshold: unknown key (allowed: above, across, aggregate, below, by, category, clear, "
     "description, equals, event, for, imbalance, latch, match, metric, name, of_rating, resolve_after, severity, "
     "stale, summary, when)"),
    ("bad severity",
     """\
     - name: bad
       category: cooling
       severity: disaster
       metric: env_temperature_celsius
       above: 27
       summary: x
     """,
     "r.yml:10: rule bad.severity: 'disaster' is not one of: info, warning, critical"),
    ("bad duration",
     """\
     - name: bad
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 27
       for: 5 minutes
       summary: x
     """,
     "r.yml:13: rule bad.for: '5 minutes' is not a duration (like 30s, 5m, 1h)"),
    ("unknown device class",
     """\
     - name: bad
       category: safety
       severity: critical
       metric: env_contact_state
       match: {class: flood}
       equals: 4
       summary: x
     """,
     "r.yml:12: rule bad.match.class: unknown device class 'flood' (known: cooling, door, env, leak, meter, pdu, "
     "smoke, switch, ups)"),
    ("imbalance across a label the metric lacks",
     """\
     - name: bad
       category: power
       severity: warning
       metric: pdu_phase_current_amperes
       imbalance: 0.3
       across: line
       summary: x
     """,
     "r.yml:13: rule bad.across: 'line' is not one of: phase"),
    ("event rule that never ends",
     """\
     - name: bad
       category: power
       severity: critical
       event: on_battery
       summary: x
     """,
     "r.yml:11: rule bad.event: say how it ends should its `cleared` trap be lost: resolve_after or latch"),
    ("duplicate name",
     """\
     - name: good
       category: cooling
       severity: warning
       metric: env_temperature_celsius
       above: 30
       summary: x
     """,
     "r.yml:8: rule good: duplicate rule name (first at r.yml:2)"),
]


@pytest.mark.parametrize(("case", "bad", "error"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_rule_names_file_line_and_rule_and_the_others_keep_working(
        tmp_path: Path, case: str, bad: str, error: str) -> None:
    names, errors = load(tmp_path, bad)
    assert errors == [error]
    assert names == ["good"]


def test_not_yaml_and_missing_top_level(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("rules: [\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("alerts: []\n", encoding="utf-8")
    errors = [str(e).replace(str(tmp_path) + "/", "") for e in load_rules(tmp_path, known=KNOWN).errors]
    assert errors == ["a.yml:2: (yaml): not valid YAML: expected the node content, but found '<stream end>'",
                      "b.yml:1: alerts: unknown key (allowed: rules)",
                      "b.yml:1: rules: missing required key"]


MATCHERS = [
    (["rack~A01"], "bad matcher 'rack~A01': expected label=value, label!=value, label=~regex or label!~regex"),
    (["rack=~A0("], "bad matcher 'rack=~A0(': 'A0(' is not a regular expression (missing ), unterminated subpattern "
                    "at position 2)"),
    (["1rack=A01"], "bad matcher '1rack=A01': expected label=value, label!=value, label=~regex or label!~regex"),
    (["rack!=A01"], "these matchers would silence every alert: give at least one that must match"),
    ([], "a silence needs at least one matcher (label=value, label!=value, label=~regex or label!~regex)"),
]


@pytest.mark.parametrize(("texts", "error"), MATCHERS)
def test_a_silence_with_a_bad_matcher_is_refused(texts: list[str], error: str) -> None:
    with pytest.raises(MatcherError) as exc:
        parse_matchers(texts)
    assert str(exc.value) == error


def test_matchers_match_like_alertmanager() -> None:
    m = parse_matchers(['rack=~"A0[12]"', "severity!=info", "device=pdu-A01-a"])
    assert all(x.matches({"rack": "A01", "severity": "critical", "device": "pdu-A01-a"}) for x in m)
    assert not m[0].matches({"rack": "A03"})
