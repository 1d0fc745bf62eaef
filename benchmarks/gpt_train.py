"""One training step of a small GPT: ``tl.GPT`` against Hugging Face's ``GPT2LMHeadModel``.

Both models have the same configuration and the same (random) weights: the Hugging Face model
is built from a ``GPT2Config`` with ``attn_implementation="sdpa"`` (nothing is downloaded) and
``tl.GPT.from_huggingface`` copies it. A step is forward, cross-entropy over every position,
backward and an ``AdamW`` update, with dropout off. Before timing, the losses of both models
are checked equal on the first step and again after one update.

The report gives the median step time of each, their ratio (target: the library at most 1.0x
Hugging Face's time), tokens per second, and the model FLOPs utilisation (MFU): the FLOPs the
model needs per second at that speed, divided by what a float32 matrix product reaches on the
same device in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

import transformer_lib as tl

from .common import alternate, machine, matmul_flops

NAME = "gpt_train"


def hf_gpt2(vocab_size: int, max_len: int, d_model: int, num_layers: int, num_heads: int):
    """A randomly initialised ``transformers.GPT2LMHeadModel`` without dropout, SDPA attention."""
    import transformers

    config = transformers.GPT2Config(
        vocab_size=vocab_size, n_positions=max_len, n_embd=d_model, n_layer=num_layers,
        n_head=num_heads, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=None, eos_token_id=None, attn_implementation="sdpa",
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(config)


def flops_per_token(model: tl.GPT, T: int) -> int:
    """Training FLOPs per token, ``6 N + 12 L T d`` (Chowdhery et al. 2022, PaLM, appendix B).

    ``6 N``: each parameter takes part in one multiply-add (2 FLOPs) per token in the forward
    pass and two in the backward pass. ``12 L T d``: the attention scores and their weighted
    sum, which have no parameters. ``N`` counts the token embedding (it is also the output
    head, a matrix product) but not the position table (a lookup), as nanoGPT does.
    """
    c = model.config
    N = model.num_parameters()
    if model.pos_embed is not None:
        N -= sum(p.numel() for p in model.pos_embed.parameters())
    return 6 * N + 12 * c.num_layers * T * c.d_model


def _step(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> Callable[[], float]:
    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = logits_of(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def run(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    """Measure; ``quick`` uses a tiny model (for the smoke test)."""
    device = tl.get_device(device)
    if quick:
        V, d, L, H, T, B, rounds = 64, 32, 1, 2, 16, 2, 2
    else:  # a small GPT-2: 5.3M parameters, 2.1M of them in the (tied) token embedding
        V, d, L, H, T, B, rounds = 8192, 256, 4, 4, 256, 8, 9
    tl.set_seed(0)
    hf = hf_gpt2(V, T, d, L, H).to(device).train()
    ours = tl.GPT.from_huggingface(hf).train()
    tokens = torch.randint(V, (B, T + 1), device=device)
    x, y = tokens[:, :-1], tokens[:, 1:]  # predict every next token
    steps = {
        "library": _step(ours, torch.optim.AdamW(ours.parameters(), lr=3e-4), x, y),
        "huggingface": _step(
            lambda ids: hf(ids, use_cache=False).logits,
            torch.optim.AdamW(hf.parameters(), lr=3e-4),
            x,
            y,
        ),
    }
    first = {name: float(step()) for name, step in steps.items()}
    second = {name: float(step()) for name, step in steps.items()}  # after one update

    seconds = alternate(steps, rounds, device)
    peak = matmul_flops(device, n=256 if quick else 2048, rounds=2 if quick else 5)
    per_token = flops_per_token(ours, T)
    rows = []
    for name in steps:
        tokens_per_s = B * T / seconds[name]
        rows.append(
            {
                "model": name,
                "ms_per_step": 1e3 * seconds[name],
                "tokens_per_s": tokens_per_s,
                "mfu": tokens_per_s * per_token / peak,
            }
        )

    def agree(losses: dict[str, float]) -> bool:
        return abs(losses["library"] - losses["huggingface"]) <= 1e-4 * abs(losses["library"])

    return {
        "name": NAME,
        **machine(device),
        "config": {
            "vocab_size": V,
            "d_model": d,
            "num_layers": L,
            "num_heads": H,
            "T": T,
            "B": B,
            "parameters": ours.num_parameters(),
            "dtype": "float32",
        },  # fmt: skip
        "step": "forward + cross-entropy + backward + AdamW(lr=3e-4), dropout 0",
        "loss_first_step": first,
        "loss_after_one_update": second,
        "same_loss": agree(first) and agree(second),
        "flops_per_token": per_token,
        "matmul_flops_per_s": peak,
        "ratio": seconds["library"] / seconds["huggingface"],
        "target": "ratio (library / huggingface) <= 1.0",
        "rounds": rounds,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"GPT training step, vocab {c['vocab_size']}, d_model {c['d_model']}, "
        f"{c['num_layers']} layers, {c['num_heads']} heads, B={c['B']}, T={c['T']} "
        f"({c['parameters']:,} parameters), on {result['device']} ({result['threads']} "
        f"threads), median of {result['rounds']} rounds",
        f"{'model':>12} {'ms/step':>9} {'tokens/s':>9} {'MFU':>6}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['model']:>12} {r['ms_per_step']:>9.1f} {r['tokens_per_s']:>9.0f} "
            f"{100 * r['mfu']:>5.1f}%"
        )
    lines.append(
        f"ratio library / huggingface {result['ratio']:.2f}x (target <= 1.0); same loss: "
        f"{result['same_loss']}; matmul {result['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s"
    )
    return "\n".join(lines)
