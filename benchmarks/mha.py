"""Causal self-attention layers, forward and backward: ``tl.MultiHeadAttention`` against
``torch.nn.MultiheadAttention(batch_first=True)`` holding the same weights.

PyTorch's layer keeps the three input projections in one ``in_proj_weight``; it is filled
with the library's ``q_proj``, ``k_proj`` and ``v_proj`` weights stacked, and outputs and
input gradients are checked equal before timing. PyTorch's layer is called the fastest way it
offers for this: ``need_weights=False`` and ``is_causal=True`` (with the causal ``attn_mask`` it
requires as well), so both reach the same fused attention kernel. A timed step is the forward
pass, then the backward pass from a fixed output gradient (parameter and input gradients).
Target: the library takes at most 1.1x PyTorch's time.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import transformer_lib as tl

from .common import alternate, machine

NAME = "mha"


def _torch_copy(ours: tl.MultiHeadAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.d_model, ours.num_heads, batch_first=True)
    ref = ref.to(ours.q_proj.weight.device)
    projections = (ours.q_proj, ours.k_proj, ours.v_proj)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([p.weight for p in projections]))
        ref.in_proj_bias.copy_(torch.cat([p.bias for p in projections]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref


def _steps(
    ours: tl.MultiHeadAttention, ref: nn.MultiheadAttention, x: torch.Tensor, grad: torch.Tensor
) -> dict[str, Any]:
    T = x.shape[1]
    forbidden = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # True = may NOT

    def library() -> torch.Tensor:
        ours.zero_grad(set_to_none=True)
        x.grad = None
        out = ours(x, is_causal=True)
        out.backward(grad)
        return out

    def torch_mha() -> torch.Tensor:
        ref.zero_grad(set_to_none=True)
        x.grad = None
        out = ref(x, x, x, attn_mask=forbidden, is_causal=True, need_weights=False)[0]
        out.backward(grad)
        return out

    return {"library": library, "torch": torch_mha}


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure; ``quick`` uses tiny layers (for the smoke test)."""
    device = tl.get_device(device)
    if quick:
        settings, rounds = [(2, 8, 16, 2), (1, 16, 32, 4)], 2
    else:  # (B, T, d_model, H)
        settings = [(32, 32, 128, 4), (8, 128, 256, 4), (2, 256, 512, 8), (4, 512, 256, 8)]
        rounds = 9
    tl.set_seed(0)
    rows = []
    for B, T, d_model, H in settings:
        ours = tl.MultiHeadAttention(d_model, H).to(device).train()
        ref = _torch_copy(ours).train()
        x = torch.randn(B, T, d_model, device=device, requires_grad=True)
        grad = torch.randn(B, T, d_model, device=device)
        steps = _steps(ours, ref, x, grad)
        out_ours = steps["library"]().detach()
        grad_ours = x.grad.clone()
        out_ref = steps["torch"]().detach()
        grad_ref = x.grad.clone()
        same = torch.allclose(out_ours, out_ref, atol=1e-5, rtol=1e-4) and torch.allclose(
            grad_ours, grad_ref, atol=1e-5, rtol=1e-4
        )
        seconds = alternate(steps, rounds, device, min_time=0.01 if quick else 0.1)
        rows.append(
            {
                "B": B,
                "T": T,
                "d_model": d_model,
                "H": H,
                "ms_library": 1e3 * seconds["library"],
                "ms_torch": 1e3 * seconds["torch"],
                "ratio": seconds["library"] / seconds["torch"],
                "max_abs_diff": (out_ours - out_ref).abs().max().item(),
                "max_abs_diff_input_grad": (grad_ours - grad_ref).abs().max().item(),
                "same_output": same,
            }
        )
    return {
        "name": NAME,
        **machine(device),
        "pass": "forward + backward, causal self-attention, float32",
        "target": "ratio (library / torch) <= 1.1",
        "rounds": rounds,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Causal self-attention forward+backward, tl.MultiHeadAttention vs "
        f"nn.MultiheadAttention, on {result['device']} ({result['threads']} threads), "
        f"median of {result['rounds']} rounds",
        f"{'B':>3} {'T':>5} {'d_model':>7} {'H':>3} {'library ms':>10} {'torch ms':>9} "
        f"{'ratio':>6} same",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['B']:>3} {r['T']:>5} {r['d_model']:>7} {r['H']:>3} {r['ms_library']:>10.2f} "
            f"{r['ms_torch']:>9.2f} {r['ratio']:>5.2f}x {r['same_output']}"
        )
    lines.append(f"target: {result['target']}")
    return "\n".join(lines)
