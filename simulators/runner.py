"""Run the simulated legacy world as a long-lived process: ``court-gateway sims``."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, World, generate_world
from simulators.persistence import Restored


def build_world(settings: Settings, cases_per_court: int | None = None) -> tuple[World, float]:
    """Generate the world; returns it with the seconds it took."""
    seed = SeedConfig.load(settings.seed_file)
    started = time.perf_counter()
    world = generate_world(settings.courts, seed, cases_per_court or settings.sim_cases_per_court)
    return world, time.perf_counter() - started


def describe(cluster: SimulatorCluster, settings: Settings) -> str:
    lines = [f"{'code':<8}{'slug':<11}{'family':<14}{'url':<26}name"]
    for backend in cluster.backends.values():
        c = backend.config
        lines.append(f"{c.code:<8}{c.slug:<11}{c.family:<14}{c.base_url:<26}{c.name}")
    lines.append(f"control API: http://{settings.host}:{settings.sim_control_port}/courts")
    return "\n".join(lines)


#: called once the courts listen; may return what to await on the way out (before the courts stop)
Ready = Callable[[SimulatorCluster, World, Restored | None], Awaitable[Callable[[], Awaitable[None]] | None]]


async def run_simulators(
    settings: Settings,
    cases_per_court: int | None = None,
    *,
    ready: Ready | None = None,
    state_dir: Path | None = None,
) -> None:
    """Start every configured backend and the control API; serve until SIGINT/SIGTERM. With ``state_dir``
    the courts keep their records there across restarts (``simulators.persistence``). ``ready`` runs once
    the courts listen (the demo starts its gateway there); what it returns is awaited on the way out,
    before the courts stop."""
    world, seconds = build_world(settings, cases_per_court)
    print(
        f"generated {world.case_count():,} cases in {len(world.courts)} courts in {seconds:.1f} s (seed {world.seed})"
    )
    cluster = SimulatorCluster(settings.courts, world, settings.host)
    restored = cluster.remember(state_dir) if state_dir is not None else None
    if restored is not None:
        print(
            f"the courts' records: {restored.reason}"
            + ("" if restored.loaded else "; the courts start from their seed")
        )
    await cluster.start()
    await cluster.serve_control(settings.host, settings.sim_control_port)
    print(describe(cluster, settings), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    leaving: Callable[[], Awaitable[None]] | None = None
    try:
        if ready is not None:
            leaving = await ready(cluster, world, restored)
        await stop.wait()
    finally:
        if leaving is not None:
            await leaving()
        await cluster.stop()
