"""Generation with the key/value cache against full recomputation, `GPT.generate`, batch 1.

For each number of new tokens, both ways generate the same tokens (checked), alternating over
several rounds; the report gives the median tokens per second of each and their ratio.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

import transformer_lib as tl

NAME = "kv_cache"


def _generate_seconds(model: tl.GPT, prompt: torch.Tensor, n: int, use_cache: bool) -> float:
    start = time.perf_counter()
    model.generate(prompt, n, temperature=0.0, use_cache=use_cache)
    if prompt.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure; ``quick`` uses a tiny model and few tokens (for the smoke test)."""
    device = tl.get_device(device)
    if quick:
        config = tl.GPTConfig(vocab_size=64, max_len=64, d_model=32, num_heads=2, num_layers=1)
        lengths, rounds = [8, 16], 2
    else:  # the size of chapter 6's model, with a longer context
        config = tl.GPTConfig(vocab_size=82, max_len=1088, d_model=128, num_heads=4, num_layers=4)
        lengths, rounds = [64, 256, 1024], 3
    tl.set_seed(0)
    model = tl.GPT(config).to(device).eval()
    prompt = torch.randint(config.vocab_size, (1, 16), device=device)
    rows = []
    for n in lengths:
        same = torch.equal(
            model.generate(prompt, n, temperature=0.0, use_cache=True),
            model.generate(prompt, n, temperature=0.0, use_cache=False),
        )
        cached, full = [], []
        for _ in range(rounds):  # alternate, so drifts in machine speed hit both alike
            cached.append(_generate_seconds(model, prompt, n, use_cache=True))
            full.append(_generate_seconds(model, prompt, n, use_cache=False))
        t_cached, t_full = statistics.median(cached), statistics.median(full)
        rows.append(
            {
                "new_tokens": n,
                "same_tokens": same,
                "tokens_per_s_cache": n / t_cached,
                "tokens_per_s_no_cache": n / t_full,
                "speedup": t_full / t_cached,
            }
        )
    return {
        "name": NAME,
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": {k: v for k, v in vars(config).items()},
        "rounds": rounds,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"GPT.generate, batch 1, greedy, on {result['device']} "
        f"({result['threads']} threads), median of {result['rounds']} rounds",
        f"{'new tokens':>10} {'cache tok/s':>12} {'no cache tok/s':>15} {'speed-up':>9} same",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['new_tokens']:>10} {r['tokens_per_s_cache']:>12.0f} "
            f"{r['tokens_per_s_no_cache']:>15.0f} {r['speedup']:>8.1f}x {r['same_tokens']}"
        )
    return "\n".join(lines)
