"""HAProxy from Debian's package, in front of the replicas: its config, its process, its statistics.

The config is what a court's operator would start from: round robin over the replicas, a replica in
rotation only while ``/readyz`` answers 200 (checked every half second, out after two failures, back
after two successes), and layer-7 retries that move a request to another replica when its connection
is refused, reset or answered with nothing (``option redispatch`` + ``retry-on``). Retrying a GraphQL
POST is safe here because the gateway's writes are idempotent (a filing's ``idempotencyKey``, one
signature per document and person); a client API with non-idempotent writes would need
``http-request disable-l7-retry`` for them.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

CONFIG = """\
global
    maxconn 4096
    # 64 KiB buffers: a request is retried only when it fits in one (the cluster test's filings do)
    tune.bufsize 65536

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 15s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503 504
    option http-buffer-request

frontend gateway
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
{servers}

frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )


def render(port: int, stats_port: int, replicas: list[tuple[str, int]]) -> str:
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in replicas)
    return CONFIG.format(port=port, stats_port=stats_port, servers=servers)


@dataclass
class ServerStats:
    name: str
    status: str
    sessions: int  # requests sent to it (stot)
    retries: int  # wretr: connection retries
    redispatches: int  # wredis: requests moved to another server
    errors: int  # eresp: responses that failed (the killed replica's in-flight requests)
    down_transitions: int  # chkdown


class HAProxy:
    def __init__(self, port: int, stats_port: int, replicas: list[tuple[str, int]]) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (apt-get install -y haproxy)")
        self.binary = binary
        self.url = f"http://127.0.0.1:{port}"
        self.stats_url = f"http://127.0.0.1:{stats_port}/stats;csv"
        self.directory = Path(tempfile.mkdtemp(prefix="court-gateway-haproxy-"))
        self.config = self.directory / "haproxy.cfg"
        self.config.write_text(render(port, stats_port, replicas))
        self.process: subprocess.Popen[bytes] | None = None

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[0].split(" - ")[0] if out else "haproxy"

    def start(self) -> None:
        subprocess.run([self.binary, "-c", "-q", "-f", str(self.config)], check=True)
        log = (self.directory / "haproxy.log").open("wb")
        self.process = subprocess.Popen([self.binary, "-db", "-f", str(self.config)], stdout=log, stderr=log)
        time.sleep(0.1)
        if self.process.poll() is not None:
            raise RuntimeError(f"haproxy exited: {(self.directory / 'haproxy.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    async def servers(self) -> dict[str, ServerStats]:
        """Each replica's line of HAProxy's statistics (CSV)."""
        async with aiohttp.ClientSession() as session, session.get(self.stats_url) as response:
            text = await response.text()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        found = {}
        for row in rows:
            if row["pxname"] != "replicas" or row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            found[row["svname"]] = ServerStats(
                row["svname"],
                row["status"],
                int(row["stot"] or 0),
                int(row["wretr"] or 0),
                int(row["wredis"] or 0),
                int(row["eresp"] or 0),
                int(row["chkdown"] or 0),
            )
        return found

    async def in_rotation(self) -> set[str]:
        """The replicas HAProxy sends requests to (none while it is still starting)."""
        try:
            servers = await self.servers()
        except aiohttp.ClientError:
            return set()
        return {name for name, s in servers.items() if s.status == "UP"}
