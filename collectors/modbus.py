"""Modbus TCP collection: environment sensors and air-conditioner controllers, read with pymodbus.

A Modbus device in the inventory has `modbus: {unit: N}` and names its
register map as its profile (collectors/profiles/modbus/*.yml, see
modbus_maps.py). A poll connects, reads the map's blocks (few requests,
within the spec's limits), closes, and turns the words into Samples. The
connection is not kept between polls: many RS-485 gateways accept only a
few TCP clients, and a poll every 30 s does not need one held open.
Every failure (no connection, no answer, an exception response) is a
CollectorError whose text is the poll report's reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from dcops.types import Sample
from inventory.model import Device

from .modbus_maps import BIT_TABLES, RegisterMap, load_register_maps
from .poller import CollectorError

# Modbus exception codes (Modbus Application Protocol v1.1b3, 7)
EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
              4: "server device failure", 5: "acknowledge", 6: "server device busy",
              8: "memory parity error", 10: "gateway path unavailable",
              11: "gateway target device failed to respond"}
READS = {"holding": "read_holding_registers", "input": "read_input_registers", "coil": "read_coils",
         "discrete": "read_discrete_inputs"}

__all__ = ["ModbusCollector", "load_register_maps"]


class ModbusCollector:
    """The poller's collector for protocol `modbus` (a DeviceCollector)."""

    def __init__(self, maps: Mapping[str, RegisterMap] | None = None, *, timeout: float = 2.0,
                 retries: int = 1) -> None:
        self.maps = dict(maps if maps is not None else load_register_maps())
        self.timeout = timeout
        self.retries = retries

    def close(self) -> None:
        """Nothing is held between polls."""

    async def collect(self, device: Device, ts: float) -> tuple[list[Sample], tuple[str, ...]]:
        from pymodbus.client import AsyncModbusTcpClient
        from pymodbus.exceptions import ModbusException

        register_map = self.maps.get(device.profile)
        if register_map is None:
            known = ", ".join(sorted(self.maps)) or "none"
            raise CollectorError(f"unknown Modbus register map {device.profile!r} (known: {known})")
        unit = device.modbus.unit if device.modbus is not None else 1
        client = AsyncModbusTcpClient(device.host, port=device.port, timeout=self.timeout,
                                      retries=self.retries, reconnect_delay=0)
        values: dict[tuple[str, int], int] = {}
        try:
            if not await client.connect():
                raise CollectorError(f"no Modbus TCP connection to {device.address}")
            for table, start, count in register_map.blocks():
                where = f"{table} {start}-{start + count - 1} of unit {unit}"
                try:
                    answer = await getattr(client, READS[table])(start, count=count, device_id=unit)
                except ModbusException as exc:
                    raise CollectorError(f"Modbus read of {where} failed: {exc}") from exc
                if answer.isError():
                    code = int(getattr(answer, "exception_code", 0))
                    raise CollectorError(f"the device refused to read {where}: exception {code} "
                                         f"({EXCEPTIONS.get(code, 'unknown')})")
                words = answer.bits if table in BIT_TABLES else answer.registers
                if len(words) < count:
                    raise CollectorError(f"Modbus read of {where} returned {len(words)} values, not {count}")
                values.update(((table, start + i), int(w)) for i, w in enumerate(words[:count]))
        finally:
            client.close()
        return register_map.evaluate(device.name, values, ts), (register_map.name,)
