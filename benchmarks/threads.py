"""Two PyTorch processes on the same CPU cores: each with PyTorch's default threads, and each
with its share of the cores.

PyTorch starts one intra-op thread per core. Two processes that each do that (a notebook and a
test run, say) put twice as many busy threads as cores on the machine, and their threads wait
on each other at every parallel operation. The benchmark times the same training steps of a
small GPT in three set-ups, in fresh processes:

* ``alone``: one process, default threads (the reference);
* ``two, default threads``: two processes side by side, each with the default;
* ``two, a share each``: two processes side by side, each with ``cores // 2`` threads
  (``torch.set_num_threads``, or ``OMP_NUM_THREADS`` before Python starts).

The report gives the median step time of each process and its ratio to ``alone``. It runs on
the CPU whatever ``--device`` says: the question is about CPU threads. book/running.md explains
what to do about it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .common import machine

NAME = "threads"
ROOT = Path(__file__).resolve().parent.parent


def _worker(threads: int, steps: int, quick: bool) -> None:
    """Run in a child process: time ``steps`` training steps, print the seconds of each."""
    import transformer_lib as tl

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    d, T, B = (32, 32, 4) if quick else (128, 128, 16)
    model = tl.GPT(tl.GPTConfig(vocab_size=64, max_len=T, d_model=d, num_heads=4, num_layers=2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(64, (B, T))
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        model(x, x)[1].backward()
        optimizer.step()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    print(json.dumps({"threads": torch.get_num_threads(), "seconds": times}), flush=True)


def _launch(count: int, threads: int, steps: int, quick: bool) -> list[dict[str, Any]]:
    """Start ``count`` workers at once and wait for all of them."""
    code = f"from benchmarks.threads import _worker; _worker({threads}, {steps}, {quick})"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("OMP_NUM_THREADS", None)  # the default means PyTorch's own choice
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )  # fmt: skip
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"a benchmark worker failed with exit code {proc.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure (on the CPU); ``quick`` uses a tiny model and a few steps (for the smoke test)."""
    steps = 3 if quick else 30
    cores = os.cpu_count() or 1
    share = max(1, cores // 2)
    setups = {
        "alone": (1, 0),
        "two, default threads": (2, 0),
        f"two, {share} thread(s) each": (2, share),
    }
    rows = []
    for name, (count, threads) in setups.items():
        for result in _launch(count, threads, steps, quick):
            rows.append(
                {
                    "setup": name,
                    "threads": result["threads"],
                    "step_s": statistics.median(result["seconds"]),
                }
            )
    alone = rows[0]["step_s"]
    for row in rows:
        row["vs_alone"] = row["step_s"] / alone
    return {
        "name": NAME,
        **machine("cpu"),
        "cores": cores,
        "steps": steps,
        "quick": quick,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"GPT training steps on {result['device_name']} ({result['cores']} cores), median "
        f"of {result['steps']} steps per process",
        f"{'set-up':<26} {'threads':>7} {'step ms':>9} {'vs alone':>9}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['setup']:<26} {r['threads']:>7} {1e3 * r['step_s']:>9.1f} {r['vs_alone']:>8.1f}x"
        )
    return "\n".join(lines)
