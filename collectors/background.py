"""Run the poller's asyncio loop in a background thread (for `dcops demo` and `dcops run`)."""

from __future__ import annotations

import asyncio
import threading

from .poller import Poller


class PollerThread:
    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="dcops-poller", daemon=True)
        self._ready = threading.Event()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            self._loop.run_until_complete(self._run(self._stop))
        finally:
            self._loop.close()

    async def _run(self, stop: asyncio.Event) -> None:
        try:
            await self.poller.run(stop)
        finally:
            close = getattr(self.poller.transport, "close", None)
            if close is not None:
                close()

    def start(self) -> PollerThread:
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
