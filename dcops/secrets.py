"""Secrets: referenced by name in the inventory, resolved once, never printed.

A `Secret` prints as `<secret>` in str(), repr(), f-strings, logs and dumps;
only `.reveal()` gives the value, and only the SNMP transport calls it.
Values come from the environment (`DCOPS_SECRET_<NAME>`, name upper-cased,
`-`/`.`/`/` as `_`) or from a secrets file (YAML mapping name → value).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

REDACTED = "<secret>"


class Secret:
    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r}, {REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.name == self.name and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> tuple[object, ...]:  # pickling would leak the value
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:  # immutable: copies (and dataclasses.asdict) share it
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self


def env_name(name: str) -> str:
    return "DCOPS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class SecretStore:
    """Resolves secret names: the environment first, then the secrets file."""

    def __init__(self, values: Mapping[str, str], environ: Mapping[str, str] | None = None):
        self._values = dict(values)
        self._environ = os.environ if environ is None else environ

    @classmethod
    def from_file(cls, path: Path | None, environ: Mapping[str, str] | None = None) -> SecretStore:
        values: dict[str, str] = {}
        if path is not None and path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a secrets file is a mapping of name: value")
            values = {str(k): str(v) for k, v in data.items()}
        return cls(values, environ)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (env_name(name) in self._environ or name in self._values)

    def get(self, name: str) -> Secret:
        if env_name(name) in self._environ:
            return Secret(name, self._environ[env_name(name)])
        return Secret(name, self._values[name])
