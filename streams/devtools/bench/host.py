"""The machine and the software versions a report was measured on: numbers mean little without."""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any


def _first_field(path: str, prefix: str) -> str:
    """The value after `prefix` on the first line of `path` that starts with it, else ""."""
    with contextlib.suppress(OSError), open(path) as lines:
        for line in lines:
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return ""


def machine() -> dict[str, Any]:
    mem_kb = int((_first_field("/proc/meminfo", "MemTotal:").split() or ["0"])[0])
    return {
        "cpus": os.cpu_count() or 0,
        "cpu_model": _first_field("/proc/cpuinfo", "model name"),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_at_start": loadavg(),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def versions(kafka_version: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    import confluent_kafka

    found = {"python": platform.python_version(), "kafka_broker": kafka_version}
    for name in ("faust-streaming", "aiokafka", "confluent-kafka", "fastavro", "rocksdict"):
        try:
            found[name] = dist_version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    found["librdkafka"] = str(confluent_kafka.libversion()[0])
    return found
