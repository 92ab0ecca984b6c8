"""Run snmpsim's command responder as a child process serving a directory of recordings.

Things about snmpsim 1.2.2 (with pysnmp 7) this module works around:

* It maps communities to files once, at start: a recording added later is
  never served, so every recording must exist before `start()`.
* It re-reads a recording when the file's mtime, in whole seconds, changes
  (snmpsim/record/search/database.py), and rebuilds its index only when the
  file is not older than the index. Writers must replace files atomically and
  move the mtime strictly forward (see `write_recording`).
* Deleting a recording does not make a device go quiet cleanly: the request
  raises inside snmpsim, and once it has evicted the file from its queue of
  31 open recordings, a closed entry stays queued and every later request for
  a recording that is not open fails: other devices stop answering. A device
  is taken down by a recording whose every line is dropped instead
  (`Record.snmprec_down`).
* A busy UDP port does not stop it: pysnmp binds in a future whose error is
  never reported, so it logs "Listening at" and answers nothing. `start()`
  checks the ports first.
* The dropped requests are logged as asyncio "Exception in callback"
  tracebacks: snmpsim's handlers that would swallow them are named for the
  pysnmp 4 API, which pysnmp 7 no longer calls.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
RESPONDER = "snmpsim-command-responder"
RECORDING_SUFFIX = ".snmprec"


_S = TypeVar("_S", bound="StartStop")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """In the child: SIGTERM when the parent dies, even by SIGKILL, so no agent outlives dcops.

    Linux ties this to the thread that started the child: start snmpsim from a
    thread that lives as long as the process (the demo uses the main thread).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stop() and atexit still clean up


class StartStop:
    """`with thing:` starts it and always stops it (snmpsim, the virtual room, the whole lab)."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SnmpSimError(RuntimeError):
    pass


def responder_path() -> Path:
    """The responder installed next to this interpreter (the venv's bin)."""
    return Path(sys.executable).parent / RESPONDER


def free_udp_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def write_recording(path: Path, text: str, previous_mtime: int | None = None) -> int:
    """Replace `path` atomically with an mtime after the previous one; return that mtime.

    snmpsim compares whole-second mtimes, so two writes within one second
    would go unnoticed without the strictly increasing stamp.
    """
    if previous_mtime is None and path.exists():
        previous_mtime = int(path.stat().st_mtime)
    mtime = max(int(time.time()), (previous_mtime or 0) + 1)
    tmp = path.with_name(f".{path.name}.tmp")  # not *.snmprec: never taken for a recording
    try:
        tmp.write_text(text, encoding="ascii")
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return mtime


def snmp_get(host: str, port: int, community: str, oids: Sequence[str], timeout: float = 1.0) -> dict[str, Any]:
    """A minimal synchronous SNMPv2c GET over a plain UDP socket (no event loop needed).

    Raises TimeoutError when nothing answers and SnmpSimError on an SNMP error.
    """
    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = proto.GetRequestPDU()
    proto.apiPDU.set_defaults(pdu)
    proto.apiPDU.set_varbinds(pdu, [(oid, proto.Null("")) for oid in oids])
    msg = proto.Message()
    proto.apiMessage.set_defaults(msg)
    proto.apiMessage.set_community(msg, community)
    proto.apiMessage.set_pdu(msg, pdu)
    request_id = proto.apiPDU.get_request_id(pdu)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(encoder.encode(msg), (host, port))
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65535)
            except (TimeoutError, ConnectionRefusedError):
                break
            rsp, _ = decoder.decode(data, asn1Spec=proto.Message())
            rsp_pdu = proto.apiMessage.get_pdu(rsp)
            if proto.apiPDU.get_request_id(rsp_pdu) != request_id:
                continue
            if int(proto.apiPDU.get_error_status(rsp_pdu)):
                raise SnmpSimError(f"{host}:{port} answered {proto.apiPDU.get_error_status(rsp_pdu).prettyPrint()}")
            return {str(oid): value for oid, value in proto.apiPDU.get_varbinds(rsp_pdu)}
    raise TimeoutError(f"no SNMP answer from {host}:{port} within {timeout:g} s")


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user snmpsim accepts (its protocol names: SHA, SHA256, AES, AES256, ...).

    With SNMPv3, snmpsim picks the recording by the request's contextName
    (the recording's base name), not by community.
    """

    name: str
    auth_key: str = ""
    auth_protocol: str = "SHA"
    priv_key: str = ""
    priv_protocol: str = "AES"

    def options(self) -> list[str]:
        args = [f"--v3-user={self.name}"]
        if self.auth_key:
            args += [f"--v3-auth-key={self.auth_key}", f"--v3-auth-proto={self.auth_protocol}"]
        if self.priv_key:
            args += [f"--v3-priv-key={self.priv_key}", f"--v3-priv-proto={self.priv_protocol}"]
        return args


class SnmpSim(StartStop):
    """One `snmpsim-command-responder` child serving `data_dir` on every endpoint.

    Every recording is served on every endpoint (snmpsim picks the file by
    community alone). `start()` returns once each endpoint answers a GET of
    sysUpTime for `probe_community`; `stop()` always reaps the child.
    """

    def __init__(
        self,
        data_dir: Path,
        endpoints: Sequence[tuple[str, int]],
        workdir: Path,
        *,
        probe_community: str | None = None,
        executable: Path | None = None,
        ready_timeout: float = 30.0,
        log_level: str = "error",
        v3_users: Sequence[V3User] = (),
    ) -> None:
        if not endpoints:
            raise SnmpSimError("no endpoint to serve")
        self.data_dir = Path(data_dir)
        self.endpoints = list(dict.fromkeys(endpoints))
        self.workdir = Path(workdir)
        self.cache_dir = self.workdir / "cache"
        self.log_path = self.workdir / "snmpsim.log"
        self.probe_community = probe_community
        self.executable = Path(executable) if executable is not None else responder_path()
        self.ready_timeout = ready_timeout
        self.log_level = log_level
        self.v3_users = list(v3_users)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        # snmpsim reads its options in order: an engine's v3 users come after --v3-engine-id and
        # before the --data-dir and endpoints they serve (components.md)
        v3 = ["--v3-engine-id=auto", *(o for u in self.v3_users for o in u.options())] if self.v3_users else []
        args = [
            str(self.executable),
            *v3,
            f"--data-dir={self.data_dir}",
            f"--cache-dir={self.cache_dir}",
            f"--log-level={self.log_level}",
        ]
        for host, port in self.endpoints:
            if ":" in host:
                args.append(f"--agent-udpv6-endpoint=[{host}]:{port}")
            else:
                args.append(f"--agent-udpv4-endpoint={host}:{port}")
        return args

    def _community(self) -> str:
        if self.probe_community is not None:
            return self.probe_community
        recordings = sorted(self.data_dir.glob("*" + RECORDING_SUFFIX))
        if not recordings:
            raise SnmpSimError(f"no recordings in {self.data_dir}")
        return recordings[0].name[: -len(RECORDING_SUFFIX)]

    def start(self) -> None:
        if self.running:
            return
        if not self.executable.exists():
            raise SnmpSimError(f"{self.executable} not found (pip install snmpsim)")
        community = self._community()
        for host, port in self.endpoints:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                try:
                    s.bind((host, port))
                except OSError as exc:
                    raise SnmpSimError(f"cannot serve {host}:{port}: {exc.strerror}") from exc
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if os.geteuid() == 0:
            env["SNMPSIM_ALLOW_ROOT"] = "true"  # else it refuses to run as root
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                preexec_fn=die_with_parent,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready(community)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, community: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        pending = list(self.endpoints)
        while pending:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise SnmpSimError(f"snmpsim exited with {code} at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise SnmpSimError(
                    f"snmpsim did not answer on {', '.join(f'{h}:{p}' for h, p in pending)} "
                    f"within {self.ready_timeout:g} s:\n{self.log_tail()}"
                )
            host, port = pending[0]
            try:
                snmp_get(host, port, community, [SYS_UPTIME], timeout=0.3)
            except SnmpSimError:
                pass  # an error answer is still an answer
            except (TimeoutError, OSError):
                time.sleep(0.05)  # a refused port fails at once; do not spin
                continue
            pending.pop(0)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return "(no log)"

