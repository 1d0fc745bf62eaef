"""What the benchmarks share: timing contenders in turn, and a description of the machine."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done, not when it is queued."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def machine(device: torch.device | str) -> dict[str, Any]:
    """Where a result was measured: numbers from other machines are not comparable."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = _cpu_name()
    return {
        "device": str(device),
        "device_name": name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def alternate(
    contenders: dict[str, Callable[[], object]],
    rounds: int,
    device: torch.device | str,
    *,
    min_time: float = 0.05,
) -> dict[str, float]:
    """Median seconds per call of each contender, measured in turn over ``rounds`` rounds.

    Each contender runs once to warm up. A measurement repeats the call until it lasts about
    ``min_time`` seconds (for short calls, whose single timings are mostly noise). The
    contenders take turns within each round, and the order flips every round, so a machine
    that speeds up or slows down (another process, clock changes) hits all of them alike.
    """
    reps = {}
    for name, fn in contenders.items():
        start = time.perf_counter()
        fn()
        synchronize(device)
        once = time.perf_counter() - start
        reps[name] = max(1, min(1000, round(min_time / max(once, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            fn, n = contenders[name], reps[name]
            synchronize(device)
            start = time.perf_counter()
            for _ in range(n):
                fn()
            synchronize(device)
            samples[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def matmul_flops(device: torch.device | str, n: int = 1024, rounds: int = 5) -> float:
    """Floating-point operations per second of an ``n x n`` float32 matrix product here.

    A dense matrix product is about the fastest thing the machine does, so this is the
    yardstick for model FLOPs utilisation: ``2 n^3`` operations per product.
    """
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    seconds = alternate({"mm": lambda: a @ b}, rounds, device, min_time=0.2)["mm"]
    return 2 * n**3 / seconds
