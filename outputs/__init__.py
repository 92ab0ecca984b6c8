"""Outputs: where the Sample stream goes (embedded store, Prometheus, InfluxDB).

Every output implements `Output.publish(report, samples)`; the poller calls
each registered output with the same stream and never knows where it goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dcops.registry import Registry
from dcops.types import PollReport, Sample


class Output(Protocol):
    def publish(self, report: PollReport, samples: Sequence[Sample]) -> None: ...


OUTPUTS: Registry[type] = Registry("output")
