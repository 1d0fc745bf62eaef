"""How long each chapter notebook takes to execute, top to bottom, in a fresh kernel.

Each ``notebooks/*.ipynb`` is copied into one temporary directory and executed there, in order,
with ``nbclient`` (the notebooks in the repository are never touched). The full run takes 20 to
40 minutes on a 2-core CPU, depending on the machine, so it is left out of
``python -m benchmarks`` and runs only when named: ``python -m benchmarks notebooks``.
``--quick`` executes a one-cell notebook that it writes itself, to check that the machinery
works. ``--device`` is not used: each notebook picks its device itself.

A shared machine is not always equally fast, so the run also times a fixed workload before and
after the notebooks: training steps of chapter 6's GPT shape (4 layers, ``d_model = 128``, 12
windows of 64 tokens). Two results are comparable only where those rates agree; a notebook's
seconds on another machine scale roughly with the ratio of the rates.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import transformer_lib as tl

from .common import machine

NAME = "notebooks"
DEFAULT = False  # not part of a plain `python -m benchmarks`: it takes as long as the book

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _tiny_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1 + 1)")]
    nbformat.write(nb, path)


def reference_rate(steps: int = 100) -> float:
    """Training steps per second of chapter 6's GPT shape on random tokens, on the CPU."""
    import torch
    import torch.nn.functional as F

    config = tl.GPTConfig(vocab_size=82, max_len=64, d_model=128, num_heads=4, num_layers=4)
    g = torch.Generator().manual_seed(0)
    model = tl.GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(82, (12, 65), generator=g)

    def step() -> None:
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(max(1, steps // 10)):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def _execute(path: Path, timeout: int) -> dict[str, Any]:
    """Execute the notebook at ``path`` with its own directory as the working directory."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as e:  # a failing notebook is reported, and the others still run
        lines = str(e).strip().splitlines()
        error = f"{type(e).__name__}: {lines[-1] if lines else ''}"
    seconds = time.perf_counter() - start
    outputs = [
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    ]
    return {"seconds": seconds, "ok": error is None, "error": error, "outputs": outputs}


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Execute every chapter notebook (``quick``: one generated one-cell notebook)."""
    rows = []
    rate_steps = 5 if quick else 200
    rate_before = reference_rate(rate_steps)
    with tempfile.TemporaryDirectory() as tmp:
        if quick:
            sources = [Path(tmp) / "src" / "tiny.ipynb"]
            sources[0].parent.mkdir()
            _tiny_notebook(sources[0])
        else:
            sources = sorted(NOTEBOOKS.glob("*.ipynb"))
        # one folder for all, run in order, as `make test` runs them: a notebook may read
        # what an earlier one saved (10.2 starts from the model 10.1 saves)
        workdir = Path(tmp) / "run"
        workdir.mkdir()
        for source in sources:
            copy = workdir / source.name
            shutil.copyfile(source, copy)
            result = _execute(copy, timeout=60 if quick else 1200)
            row = {"notebook": source.name, "seconds": result["seconds"], "ok": result["ok"]}
            if result["error"]:
                row["error"] = result["error"]
            if quick:
                row["outputs"] = result["outputs"]
            rows.append(row)
    rate_after = reference_rate(rate_steps)
    return {
        "name": NAME,
        **machine(tl.get_device(device)),
        "note": "each notebook picks its own device; threads are the kernel's defaults",
        # the same workload's speed before and after: where they differ, the machine changed
        "reference_steps_per_second": {"before": rate_before, "after": rate_after},
        "total_seconds": sum(r["seconds"] for r in rows),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Notebook execution time on {result['device_name']} (torch {result['torch']})",
        f"{'notebook':<42} {'seconds':>8} ok",
    ]
    rate = result.get("reference_steps_per_second")
    if rate:
        lines.insert(1, f"reference GPT training steps/s: {rate['before']:.1f} before, "
                        f"{rate['after']:.1f} after")  # fmt: skip
    for r in result["rows"]:
        lines.append(f"{r['notebook']:<42} {r['seconds']:>8.1f} {r['ok']}")
    lines.append(f"{'total':<42} {result['total_seconds']:>8.1f}")
    return "\n".join(lines)
