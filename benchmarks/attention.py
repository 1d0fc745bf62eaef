"""Causal attention, three ways, against sequence length: time and peak memory of a forward pass.

* ``library``: ``tl.scaled_dot_product_attention(q, k, v, is_causal=True)``, the library's
  default (fused) path, which checks its inputs and then calls PyTorch's fused kernel;
* ``torch``: ``torch.nn.functional.scaled_dot_product_attention`` itself, the reference
  (target: the library within 1.05x of it);
* ``explicit``: the library with ``return_weights=True``, which takes the path the book teaches,
  ``softmax(Q K^T / sqrt(d)) V``, and so materialises the ``(B, H, T, T)`` weights.

Peak memory is :func:`tl.peak_memory`: on CUDA the allocator's own peak; elsewhere the bytes of
every tensor the operators return, counted until freed. That CPU count misses workspace a fused
kernel allocates and frees inside one call (per-thread blocks whose size does not grow with
``T``), so for the fused paths it is the output and the saved softmax statistics. Each row also
gives ``score_matrix_bytes``, the size of one ``(B, H, T, T)`` float matrix, computed, not measured.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

import transformer_lib as tl

from .common import alternate, machine

NAME = "attention"


def _ways(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, Any]:
    return {
        "library": lambda: tl.scaled_dot_product_attention(q, k, v, is_causal=True),
        "torch": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "explicit": lambda: tl.scaled_dot_product_attention(
            q, k, v, is_causal=True, return_weights=True
        )[0],
    }


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure; ``quick`` uses tiny sequences (for the smoke test)."""
    device = tl.get_device(device)
    B, H, d_head = 1, 4, 64
    if quick:
        lengths, rounds = [16, 32], 2
    else:
        lengths, rounds = [128, 256, 512, 1024, 2048, 4096], 11
    dtype = torch.float32
    tl.set_seed(0)
    rows = []
    for T in lengths:
        q, k, v = (torch.randn(B, H, T, d_head, device=device, dtype=dtype) for _ in range(3))
        ways = _ways(q, k, v)
        with torch.no_grad():
            outputs = {name: fn() for name, fn in ways.items()}
            seconds = alternate(ways, rounds, device, min_time=0.01 if quick else 0.1)
            peak = {name: tl.peak_memory(fn, device) for name, fn in ways.items()}
        diff = {
            name: (outputs[name] - outputs["library"]).abs().max().item()
            for name in ("torch", "explicit")
        }
        rows.append(
            {
                "T": T,
                "ms_library": 1e3 * seconds["library"],
                "ms_torch": 1e3 * seconds["torch"],
                "ms_explicit": 1e3 * seconds["explicit"],
                "ratio_library_vs_torch": seconds["library"] / seconds["torch"],
                "ratio_explicit_vs_library": seconds["explicit"] / seconds["library"],
                "peak_bytes_library": peak["library"],
                "peak_bytes_torch": peak["torch"],
                "peak_bytes_explicit": peak["explicit"],
                "score_matrix_bytes": B * H * T * T * torch.finfo(dtype).bits // 8,
                "max_abs_diff_torch": diff["torch"],
                "max_abs_diff_explicit": diff["explicit"],
                "outputs_agree": all(
                    torch.allclose(outputs[n], outputs["library"], atol=1e-5, rtol=1e-4)
                    for n in ("torch", "explicit")
                ),
            }
        )
    info = machine(device)
    return {
        "name": NAME,
        **info,
        "config": {"B": B, "H": H, "d_head": d_head, "dtype": str(dtype), "causal": True},
        "pass": "forward, no gradients",
        "memory_method": (
            "CUDA allocator peak"
            if info["device"].startswith("cuda")
            else "tensors returned by operators (tl.peak_memory); kernel-internal workspace "
            "not counted"
        ),
        "target": "ratio_library_vs_torch <= 1.05",
        "rounds": rounds,
        "rows": rows,
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def table(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"Causal attention forward, B={c['B']}, H={c['H']}, d_head={c['d_head']}, on "
        f"{result['device']} ({result['threads']} threads), median of {result['rounds']} rounds",
        f"{'T':>5} {'library ms':>10} {'torch ms':>9} {'lib/torch':>9} {'explicit ms':>11} "
        f"{'expl/lib':>8} {'MiB lib':>8} {'MiB torch':>9} {'MiB expl':>9} agree",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['T']:>5} {r['ms_library']:>10.2f} {r['ms_torch']:>9.2f} "
            f"{r['ratio_library_vs_torch']:>8.2f}x {r['ms_explicit']:>11.2f} "
            f"{r['ratio_explicit_vs_library']:>7.1f}x {_mib(r['peak_bytes_library']):>8} "
            f"{_mib(r['peak_bytes_torch']):>9} {_mib(r['peak_bytes_explicit']):>9} "
            f"{r['outputs_agree']}"
        )
    lines.append(f"target: {result['target']}; memory: {result['memory_method']}")
    return "\n".join(lines)
