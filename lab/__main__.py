"""`python -m lab`: serve the virtual room until interrupted (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from inventory import REFERENCE_DIR, load_inventory

from .room import LabRunner, at_address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("--inventory", type=Path, default=REFERENCE_DIR, help="inventory directory")
    parser.add_argument("--workdir", type=Path, default=Path("var/lab"), help="recordings, cache and log")
    parser.add_argument("--port", type=int, help="serve every device on 127.0.0.1:PORT instead")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between re-renders")
    args = parser.parse_args(argv)
    inventory = load_inventory(args.inventory)
    if args.port is not None:
        inventory = at_address(inventory, "127.0.0.1", args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LabRunner(inventory, args.workdir, interval=args.interval) as lab:
        endpoints = ", ".join(f"{h}:{p}" for h, p in lab.room.endpoints)
        print(f"serving {len(lab.room.devices)} devices on {endpoints} (log: {args.workdir / 'snmpsim.log'})")
        for name, reason in lab.room.skipped.items():
            print(f"  not served: {name}: {reason}")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
