"""Real agents and peers for benchmarks: net-snmp's snmpd and Prometheus's snmp_exporter."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import yaml

from collectors.profile import Profile


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise SystemExit(f"benchmark needs {command!r} (make bench installs it)")
    return path


class Snmpd:
    """One net-snmp agent on 127.0.0.1 (components.md: -I -smux, -m "", no systemd)."""

    def __init__(self, workdir: Path, community: str = "public") -> None:
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / f"snmpd-{self.port}.conf"
        conf.write_text(f"agentAddress udp:127.0.0.1:{self.port}\nrocommunity {community} 127.0.0.1\n"
                        "master no\n", encoding="utf-8")
        self.proc = subprocess.Popen(
            [need("snmpd"), "-f", "-C", "-c", str(conf), "-I", "-smux", "-m", "", "-Lf",
             str(workdir / f"snmpd-{self.port}.log"), "-p", str(workdir / f"snmpd-{self.port}.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "0.2", "-r", "0",
                              f"127.0.0.1:{self.port}", "1.3.6.1.2.1.1.3.0"],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"snmpd on port {self.port} did not answer")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def exporter_module(profile: Profile, community: str, max_repetitions: int) -> dict[str, object]:
    """An snmp_exporter 0.21 module reading what the dcops profile reads."""
    metrics = []
    for r in profile.readings:
        metric: dict[str, object] = {
            "name": r.kind.metric, "oid": r.oid, "help": r.name,
            "type": "counter" if r.kind.metric.endswith("_total") else "gauge",
            "indexes": [{"labelname": label, "type": "gauge"} for label in r.index],
        }
        if r.lookups:
            metric["lookups"] = [{"labels": list(r.index), "labelname": lk.label, "oid": lk.oid,
                                  "type": "DisplayString"} for lk in r.lookups]
        metrics.append(metric)
    return {"walk": profile.walks, "version": 2, "max_repetitions": max_repetitions,
            "auth": {"community": community}, "metrics": metrics}


class SnmpExporter:
    def __init__(self, workdir: Path, modules: dict[str, dict[str, object]]) -> None:
        config = workdir / "snmp.yml"
        config.write_text(yaml.safe_dump(modules, sort_keys=False), encoding="utf-8")
        binary = need("prometheus-snmp-exporter")
        check = subprocess.run([binary, f"--config.file={config}", "--dry-run"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"snmp_exporter refused the generated config:\n{check.stderr}")
        self.port = free_port(socket.SOCK_STREAM)
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("snmp_exporter did not listen") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
