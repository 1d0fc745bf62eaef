"""Greedy generation at batch 1 with a key/value cache: ``tl.GPT.generate`` against Hugging
Face's ``GPT2LMHeadModel.generate``, both with the same (random) weights.

Hugging Face is called with ``do_sample=False, use_cache=True`` and ``min_new_tokens`` equal to
``max_new_tokens``; its model has no end-of-sequence token, so neither side stops early or
suppresses a token. Both must produce the same tokens (checked). For each number of new tokens
the two take turns over several rounds; the report gives the median tokens per second of each
and their ratio (target: the library at least 1.5x as fast). At batch 1 a small model's step is
a few small matrix-vector products, so this measures mostly the per-token overhead of each
implementation around them.

How much the cache itself saves against recomputing the whole sequence every step is the
``kv_cache`` benchmark (``python -m benchmarks kv_cache``); it is not repeated here.
"""

from __future__ import annotations

from typing import Any

import torch

import transformer_lib as tl

from .common import alternate, machine
from .gpt_train import hf_gpt2

NAME = "generation"


def _contenders(ours: tl.GPT, hf: Any, prompt: torch.Tensor, n: int) -> dict[str, Any]:
    ones = torch.ones_like(prompt)

    def library() -> torch.Tensor:
        return ours.generate(prompt, n, temperature=0.0, use_cache=True)

    def huggingface() -> torch.Tensor:
        return hf.generate(
            prompt, attention_mask=ones, max_new_tokens=n, min_new_tokens=n, do_sample=False,
            use_cache=True, pad_token_id=0,
        )  # fmt: skip

    return {"library": library, "huggingface": huggingface}


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure; ``quick`` uses a tiny model and few tokens (for the smoke test)."""
    device = tl.get_device(device)
    if quick:
        V, max_len, d, L, H = 64, 64, 32, 1, 2
        lengths, rounds = [8, 16], 2
    else:  # chapter 6's character model, with a longer context
        V, max_len, d, L, H = 82, 1088, 128, 4, 4
        lengths, rounds = [64, 256, 1024], 5
    prompt_len = 16
    tl.set_seed(0)
    hf = hf_gpt2(V, max_len, d, L, H).to(device).eval()
    ours = tl.GPT.from_huggingface(hf)
    prompt = torch.randint(V, (1, prompt_len), device=device)
    rows = []
    for n in lengths:
        ways = _contenders(ours, hf, prompt, n)
        with torch.no_grad():
            a, b = ways["library"](), ways["huggingface"]()
        same = a.shape == b.shape and torch.equal(a, b)
        differ = (a[0] != b[0]).nonzero() if a.shape == b.shape else None
        first_difference = None if same or differ is None else int(differ[0, 0].item()) - prompt_len
        seconds = alternate(ways, rounds, device)
        rows.append(
            {
                "new_tokens": n,
                "same_tokens": same,
                "first_difference": first_difference,
                "tokens_per_s_library": n / seconds["library"],
                "tokens_per_s_huggingface": n / seconds["huggingface"],
                "speedup": seconds["huggingface"] / seconds["library"],
            }
        )
    return {
        "name": NAME,
        **machine(device),
        "config": {
            "vocab_size": V,
            "max_len": max_len,
            "d_model": d,
            "num_layers": L,
            "num_heads": H,
            "prompt_len": prompt_len,
            "batch": 1,
        },  # fmt: skip
        "target": "speedup (huggingface time / library time) >= 1.5",
        "see_also": "kv_cache (the cache against recomputation)",
        "rounds": rounds,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"Greedy generation, batch 1, d_model {c['d_model']}, {c['num_layers']} layers, "
        f"prompt {c['prompt_len']}, tl.GPT.generate vs GPT2LMHeadModel.generate, on "
        f"{result['device']} ({result['threads']} threads), median of {result['rounds']} rounds",
        f"{'new tokens':>10} {'library tok/s':>13} {'HF tok/s':>9} {'speed-up':>9} same",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['new_tokens']:>10} {r['tokens_per_s_library']:>13.0f} "
            f"{r['tokens_per_s_huggingface']:>9.0f} {r['speedup']:>8.2f}x {r['same_tokens']}"
        )
    lines.append(f"target: {result['target']}; see also: {result['see_also']}")
    return "\n".join(lines)
