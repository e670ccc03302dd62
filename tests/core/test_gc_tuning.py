"""The serving process's collector settings (``gateway.gc_tuning``), checked in a fresh interpreter: the
suite's own process keeps Python's defaults."""

from __future__ import annotations

import subprocess
import sys

from gateway.config import Settings


def test_tune_freezes_what_start_up_built_and_raises_the_thresholds() -> None:
    script = (
        "import gc; from gateway import gc_tuning; before = gc.get_threshold(); gc_tuning.tune(); "
        "print(before, gc.get_threshold(), gc.get_freeze_count() > 1000)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(700,", "10,", "10)", "(10000,", "50,", "100)", "True"]


def test_only_serve_turns_it_on() -> None:
    assert Settings().gc_tuned is False
    assert Settings(gc_tuned=True).gc_tuned is True
