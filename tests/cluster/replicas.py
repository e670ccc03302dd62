"""Gateway replicas as real ``court-gateway serve`` processes, each on its own loopback port.

All of them share one environment (the same PostgreSQL schema, Redis database, courts and SMS provider),
as the pods of one Deployment do. ``kill`` is SIGKILL: no graceful stop, no lease released, requests
under way cut off; ``start`` again brings the same replica back on the same port.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from gateway.config import Settings


def court_gateway() -> list[str]:
    """The installed console script beside this interpreter (the venv's), else the module."""
    script = Path(sys.executable).parent / "court-gateway"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from gateway.cli import main; main()"]


def replica_environment(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    """The replicas' environment: the test's courts (loopback ports, deadlines) plus ``extra``."""
    overrides: dict[str, dict[str, Any]] = {
        c.slug: {"base_url": c.base_url, "deadline_ms": c.deadline_ms} for c in settings.courts
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_COURT_OVERRIDES": json.dumps(overrides), "GATEWAY_LOG_LEVEL": "WARNING", **extra})
    return env


class Replica:
    def __init__(self, name: str, port: int, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = port
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = self.log_path.open("ab")
        command = [
            *court_gateway(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--graceful-timeout",
            "3",
        ]
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log, start_new_session=True)
        self.starts += 1

    async def ready(self, timeout_s: float = 60.0) -> None:
        """Wait until ``/readyz`` answers 200 (the balancer's own test)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"replica {self.name} exited: {self.tail()}")
                try:
                    async with session.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"replica {self.name} not ready in {timeout_s} s: {self.tail()}")
                await asyncio.sleep(0.2)

    async def readiness(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/readyz") as r:
            body: dict[str, Any] = await r.json()
            return body

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a node failure would."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        """SIGTERM: the graceful stop (``serve``'s), without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 15.0) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def logs_directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="court-gateway-cluster-"))


def stop_all(replicas: list[Replica]) -> None:
    """Stop every replica gracefully, at once (each takes a few seconds to let go of its work)."""
    for replica in replicas:
        replica.terminate()
    for replica in replicas:
        replica.wait()
