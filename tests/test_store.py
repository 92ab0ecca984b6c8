"""The embedded store: WAL, latest values, poll reports, history and retention."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dcops.types import PollReport, Sample
from outputs.store import Store

T0 = 1_800_000_000.0


def sample(value: float, ts: float, device: str = "probe-A01") -> Sample:
    return Sample(device, "env_temperature_celsius", value, ts, "celsius", (("sensor", "A01 inlet"),),
                  "1.3.6.1.4.1.3854.1.2.2.1.16.1.14.0")


def test_the_store_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    Store(tmp_path / "s.db", clock=lambda: T0).write([sample(22.0, T0)])
    mode = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_latest_keeps_the_newest_value_and_history_keeps_them_all(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", clock=lambda: T0)
    store.write([sample(22.0, T0)])
    store.write([sample(23.5, T0 + 30)])
    store.write([sample(21.0, T0 + 10)])  # late arrival: history yes, latest no
    (latest,) = store.latest("probe-A01")
    assert (latest.value, latest.ts, latest.labels) == (23.5, T0 + 30, (("sensor", "A01 inlet"),))
    history = store.history("probe-A01", "env_temperature_celsius", (("sensor", "A01 inlet"),))
    assert history == [(T0, 22.0), (T0 + 10, 21.0), (T0 + 30, 23.5)]


def test_poll_reports_replace_the_previous_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", clock=lambda: T0)
    store.publish(PollReport("ups-a", T0, True, 0.02, 30, profiles=("ups-mib",)), [])
    store.publish(PollReport("ups-a", T0 + 30, False, 2.0, 0, error="timeout"), [])
    (report,) = store.reports().values()
    assert (report.up, report.error, report.ts) == (False, "timeout", T0 + 30)


def test_raw_samples_older_than_the_retention_are_pruned(tmp_path: Path) -> None:
    now = [T0]
    store = Store(tmp_path / "s.db", retention=3600, clock=lambda: now[0])
    store.write([sample(20.0 + i, T0 + i * 600) for i in range(12)])  # two hours of samples
    now[0] = T0 + 11 * 600
    deleted = store.prune()
    assert deleted == 5  # older than now - 1 h: the ones at 0, 10, 20, 30 and 40 minutes
    history = store.history("probe-A01", "env_temperature_celsius", (("sensor", "A01 inlet"),))
    assert [ts for ts, _ in history] == [T0 + i * 600 for i in range(5, 12)]
    assert store.latest("probe-A01")[0].value == 31.0  # the latest value is never pruned


def test_a_second_store_on_the_same_file_sees_the_data(tmp_path: Path) -> None:
    Store(tmp_path / "s.db", clock=lambda: T0).write([sample(22.0, T0)])
    assert Store(tmp_path / "s.db", clock=lambda: T0).latest()[0].value == 22.0
