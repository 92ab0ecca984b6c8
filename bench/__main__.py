"""`python -m bench [NAME ...]`: run the benchmarks, print the table, write bench/results/*.json."""

from __future__ import annotations

import sys

from bench import BENCHMARKS, Result
from bench import alerts as _alerts  # noqa: F401  (registers itself)
from bench import devices as _devices  # noqa: F401  (registers itself)
from bench import extranet as _extranet  # noqa: F401  (registers itself)
from bench import panel as _panel  # noqa: F401  (registers itself)
from bench import poll as _poll  # noqa: F401  (registers itself)
from bench import scale as _scale  # noqa: F401
from bench import speed as _speed  # noqa: F401


def table(results: list[Result]) -> str:
    lines = [f"{'benchmark':<10} {'case':<28} {'metric':<26} {'dcops':>10} {'peer':>10}  {'peer name':<16} "
             f"{'dcops vs peer':>13}"]
    for result in results:
        for r in result.rows:
            lines.append(f"{result.name:<10} {r.case:<28} {r.metric:<26} {r.dcops:>10.4g} {r.peer:>10.4g}  "
                         f"{r.peer_name:<16} {r.ratio:>12.2f}x")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    results = []
    for name in names:
        print(f"running {name} ...", flush=True)
        result = BENCHMARKS[name]()
        print(f"  wrote {result.write()}")
        results.append(result)
    print()
    print(table(results))
    print("\n(dcops vs peer: how many times better dcops is; above 1.00x dcops wins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
