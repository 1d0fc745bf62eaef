"""The bad-input audit of the public API (issue #8): one table, one parametrized test.

Every public function, constructor and ``forward`` of ``transformer_lib`` is called here with
input it cannot take: a wrong rank or feature size, a wrong dtype (float token ids, integer
masks or inputs where floats belong), out-of-range ids, sequences longer than ``max_len``,
batch sizes that disagree between arguments, non-positive or inconsistent sizes in configs,
dropout outside [0, 1), and an input on another device than the module (the ``meta`` device
stands in for a GPU: the library compares ``.device`` objects, so the same check covers
CUDA against CPU).

The rule: each case must raise ``ValueError`` or ``TypeError`` (``FileNotFoundError`` for a
missing file) whose message names the argument, what was expected and what was given --
never a bare ``IndexError`` / ``RuntimeError`` from deep inside, a CUDA device-side assert,
or a silently broadcast result. Each row of ``CASES`` is ``(id, call, exception, regex)``;
the regex is searched for in the message and always holds the argument's name plus words of
the expectation and of the given value.

How many: the table holds 448 cases over every module of ``transformer_lib.__all__``
(``test_table_size`` holds this number to the table). Some repeat checks that other test files
make too, on purpose: the table is the audit. Before the audit, 123 of the first 390 failed (a
bare ``RuntimeError``/``IndexError``/``AttributeError``, a silent result, or a message that did
not name the argument); the 54 cases of chapter 8's modules (the Vision Transformer, question
answering, the generated data sets) came later, and 10 of them failed. The library now
checks each where the argument enters the public API.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import transformer_lib as tl
from transformer_lib.models.bert import (
    BERT,
    BERTConfig,
    BERTForMaskedLM,
    BERTForSequenceClassification,
)
from transformer_lib.models.gpt import GPT, GPTBlock, GPTConfig

META = torch.device("meta")

# Small shapes everywhere: the table runs in seconds.
B, T, D, H = 2, 5, 8, 2


def x(*shape: int, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
    return (
        torch.randn(*shape, dtype=dtype, device=device)
        if dtype.is_floating_point
        else (torch.zeros(*shape, dtype=dtype, device=device))
    )


def ids(*shape: int, high: int = 10, device: Any = None) -> torch.Tensor:
    return torch.randint(high, shape, device="cpu").to(device)


def mha(**kw: Any) -> tl.MultiHeadAttention:
    return tl.MultiHeadAttention(D, H, **kw)


def gpt(**kw: Any) -> GPT:
    return GPT(GPTConfig(**{"vocab_size": 10, "max_len": 8, "d_model": D, "num_heads": H,
                            "num_layers": 1, **kw}))  # fmt: skip


def bert_config(**kw: Any) -> BERTConfig:
    return BERTConfig(**{"vocab_size": 10, "max_len": 8, "d_model": D, "num_heads": H,
                         "num_layers": 1, "dropout": 0.0, **kw})  # fmt: skip


def transformer(**kw: Any) -> tl.Transformer:
    return tl.Transformer(**{"src_vocab_size": 10, "tgt_vocab_size": 12, "d_model": D,
                             "num_heads": H, "num_layers": 1, "d_ff": 16, "max_len": 8,
                             "dropout": 0.0, **kw})  # fmt: skip


def optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=1.0)


def train_call(**kw: Any) -> Callable[[], Any]:
    """``tl.train`` on a tiny regression, with ``kw`` overriding one argument."""

    def run() -> Any:
        model = nn.Linear(2, 2)
        args: dict[str, Any] = {
            "model": model,
            "get_batch": lambda step: (torch.randn(3, 2), torch.randn(3, 2)),
            "loss_fn": lambda m, batch: ((m(batch[0]) - batch[1]) ** 2).mean(),
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
            "steps": 1,
            "progress": False,
            **kw,
        }
        return tl.train(**args)

    return run


def checkpoint_call(fn: str, **kw: Any) -> Callable[[], Any]:
    """``tl.save_checkpoint`` / ``tl.load_checkpoint`` in a fresh temporary directory."""

    def run() -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ckpt"
            if fn == "load":
                tl.save_checkpoint(path, nn.Linear(2, 2))
            args = {"path": path, "model": nn.Linear(2, 2), **kw}
            return getattr(tl, f"{fn}_checkpoint")(**args)

    return run


def _from_pretrained_with_config(data: bytes) -> Any:
    """``GPT.from_pretrained`` on a saved model whose ``config.json`` holds ``data``."""
    with tempfile.TemporaryDirectory() as tmp:
        model = GPT(GPTConfig(vocab_size=8, max_len=4, d_model=8, num_heads=2, num_layers=1))
        model.save_pretrained(tmp)
        (Path(tmp) / "config.json").write_bytes(data)
        return GPT.from_pretrained(tmp)


def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Callable[[], Any]:
    return lambda: fn(*args, **kw)


def method(make: Callable[[], Any], name: str, *args: Any, **kw: Any) -> Callable[[], Any]:
    """Build the object first, then make the bad call on it (``name`` "" = call it)."""

    def run() -> Any:
        obj = make()
        fn = obj if name == "" else getattr(obj, name)
        return fn(*args, **kw)

    return run


def vit_config(**kw: Any) -> tl.ViTConfig:
    return tl.ViTConfig(**{"image_size": 8, "patch_size": 4, "num_channels": 1, "d_model": D,
                           "num_heads": H, "num_layers": 1, "num_labels": 3, **kw})  # fmt: skip


def vit() -> tl.ViTForImageClassification:
    return tl.ViTForImageClassification(vit_config())


def qa_model() -> tl.BERTForQuestionAnswering:
    return tl.BERTForQuestionAnswering(bert_config())


def qa_call(**kw: Any) -> Callable[[], Any]:
    """A ``BERTForQuestionAnswering`` forward on ``(B, T)`` ids, ``kw`` adding arguments."""
    return method(qa_model, "", ids(B, T), **kw)


def spans_call(**kw: Any) -> Callable[[], Any]:
    """``tl.best_spans`` on ``(B, T)`` logits and a bool mask, ``kw`` overriding one."""
    args = {"start_logits": x(B, T), "end_logits": x(B, T),
            "context_mask": torch.ones(B, T, dtype=torch.bool), **kw}  # fmt: skip
    return lambda: tl.best_spans(**args)


def on_meta(module: nn.Module) -> nn.Module:
    return module.to(META)


V, TY = ValueError, TypeError
SDPA = tl.scaled_dot_product_attention

CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # ---------------------------------------------------------------- attention functions
    (
        "sdpa-query-not-tensor",
        call(SDPA, [[1.0]], x(1, 2), x(1, 2)),
        TY,
        r"query must be a tensor.*list",
    ),
    (
        "sdpa-query-int",
        call(SDPA, x(2, 3, dtype=torch.long), x(2, 3), x(2, 3)),
        TY,
        r"query must be a floating-point.*int64",
    ),
    (
        "sdpa-key-int",
        call(SDPA, x(2, 3), x(2, 3, dtype=torch.int32), x(2, 3)),
        TY,
        r"key must be a floating-point.*int32",
    ),
    (
        "sdpa-value-bool",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3, dtype=torch.bool)),
        TY,
        r"value must be a floating-point.*bool",
    ),
    (
        "sdpa-query-rank-1",
        call(SDPA, x(3), x(3), x(3)),
        V,
        r"query must have at least 2 dimensions.*\(3,\)",
    ),
    (
        "sdpa-rank-mismatch",
        call(SDPA, x(1, 2, 3), x(2, 3), x(2, 3)),
        V,
        r"same number of dimensions.*\(1, 2, 3\)",
    ),
    (
        "sdpa-dtype-mismatch",
        call(SDPA, x(2, 3), x(2, 3, dtype=torch.float64), x(2, 3)),
        TY,
        r"share a dtype.*float32.*float64",
    ),
    (
        "sdpa-key-feature-size",
        call(SDPA, x(2, 3), x(2, 4), x(2, 4)),
        V,
        r"key has feature size d_k=4.*query has d_k=3",
    ),
    (
        "sdpa-value-length",
        call(SDPA, x(2, 3), x(4, 3), x(5, 3)),
        V,
        r"value has 5 positions.*key has 4",
    ),
    (
        "sdpa-batch-mismatch",
        call(SDPA, x(2, 4, 3), x(3, 4, 3), x(3, 4, 3)),
        V,
        r"leading \(batch, head\).*\(2,\).*\(3,\)",
    ),
    (
        "sdpa-dropout-1",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), dropout_p=1.0),
        V,
        r"dropout_p must lie in \[0, 1\).*1\.0",
    ),
    (
        "sdpa-dropout-negative",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), dropout_p=-0.1),
        V,
        r"dropout_p must lie in \[0, 1\).*-0\.1",
    ),
    (
        "sdpa-dropout-str",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), dropout_p="0.1"),
        V,
        r"dropout_p must be a number.*'0\.1'",
    ),
    (
        "sdpa-scale-str",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), scale="1"),
        V,
        r"scale must be a number or None.*'1'",
    ),
    (
        "sdpa-mask-int",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), x(2, 2, dtype=torch.long)),
        TY,
        r"mask must be bool.*int64",
    ),
    (
        "sdpa-mask-list",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), [[True]]),
        TY,
        r"mask must be a tensor or None.*list",
    ),
    (
        "sdpa-mask-shape",
        call(SDPA, x(2, 3), x(4, 3), x(4, 3), x(2, 5, dtype=torch.bool)),
        V,
        r"mask has shape \(2, 5\).*\(2, 4\)",
    ),
    (
        "sdpa-mask-broadcast-up",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), x(4, 2, 2, dtype=torch.bool)),
        V,
        r"mask has shape \(4, 2, 2\).*does not broadcast",
    ),
    (
        "sdpa-key-device",
        call(SDPA, x(2, 3), x(2, 3, device=META), x(2, 3, device=META)),
        V,
        r"key is on device meta.*query is on cpu",
    ),
    (
        "sdpa-value-device",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3, device=META)),
        V,
        r"value is on device meta.*query is on cpu",
    ),
    (
        "sdpa-mask-device",
        call(SDPA, x(2, 3), x(2, 3), x(2, 3), x(2, 2, dtype=torch.bool, device=META)),
        V,
        r"mask is on device meta.*query is on cpu",
    ),
    ("causal-mask-negative", call(tl.causal_mask, -1), V, r"T must be a non-negative int.*-1"),
    ("causal-mask-float", call(tl.causal_mask, 2.0), V, r"T must be a non-negative int.*2\.0"),
    ("padding-mask-list", call(tl.padding_mask, [1, 2], 3), TY, r"lengths must be a tensor.*list"),
    (
        "padding-mask-float",
        call(tl.padding_mask, torch.tensor([1.0]), 3),
        TY,
        r"lengths must hold integers.*float32",
    ),
    (
        "padding-mask-rank",
        call(tl.padding_mask, torch.tensor([[1]]), 3),
        V,
        r"lengths must have shape \(B,\).*\(1, 1\)",
    ),
    (
        "padding-mask-max-len",
        call(tl.padding_mask, torch.tensor([1]), -1),
        V,
        r"max_len must be a non-negative int.*-1",
    ),
    (
        "padding-mask-too-long",
        call(tl.padding_mask, torch.tensor([1, 4]), 3),
        V,
        r"lengths must lie in \[0, max_len=3\].*1 to 4",
    ),
    (
        "padding-mask-negative",
        call(tl.padding_mask, torch.tensor([-1]), 3),
        V,
        r"lengths must lie in \[0, max_len=3\].*-1",
    ),
    # ---------------------------------------------------------------- MultiHeadAttention, KVCache
    (
        "mha-d-model-zero",
        call(tl.MultiHeadAttention, 0, 1),
        V,
        r"d_model must be a positive int.*0",
    ),
    (
        "mha-num-heads-zero",
        call(tl.MultiHeadAttention, 8, 0),
        V,
        r"num_heads must be a positive int.*0",
    ),
    (
        "mha-num-heads-float",
        call(tl.MultiHeadAttention, 8, 2.0),
        V,
        r"num_heads must be a positive int.*2\.0",
    ),
    (
        "mha-heads-not-dividing",
        call(tl.MultiHeadAttention, 8, 3),
        V,
        r"num_heads=3 must divide d_model=8",
    ),
    (
        "mha-kv-heads-not-dividing",
        call(tl.MultiHeadAttention, 12, 4, num_kv_heads=3),
        V,
        r"num_kv_heads=3 must divide num_heads=4",
    ),
    (
        "mha-kv-heads-zero",
        call(tl.MultiHeadAttention, 8, 2, num_kv_heads=0),
        V,
        r"num_kv_heads must be a positive int.*0",
    ),
    (
        "mha-dropout-1",
        call(tl.MultiHeadAttention, 8, 2, dropout=1.0),
        V,
        r"dropout must lie in \[0, 1\).*1\.0",
    ),
    (
        "mha-dropout-negative",
        call(tl.MultiHeadAttention, 8, 2, dropout=-0.5),
        V,
        r"dropout must lie in \[0, 1\).*-0\.5",
    ),
    (
        "mha-dropout-str",
        call(tl.MultiHeadAttention, 8, 2, dropout="0"),
        V,
        r"dropout must be a number.*'0'",
    ),
    ("mha-query-not-tensor", method(mha, "", [[0.0] * D]), TY, r"query must be a tensor.*list"),
    (
        "mha-query-rank",
        method(mha, "", x(T, D)),
        V,
        r"query must have shape \(B, T, d_model\).*\(5, 8\)",
    ),
    (
        "mha-query-feature",
        method(mha, "", x(B, T, 6)),
        V,
        r"query has last dimension 6, but d_model is 8",
    ),
    (
        "mha-query-int",
        method(mha, "", x(B, T, D, dtype=torch.long)),
        TY,
        r"query must be a floating-point tensor.*int64",
    ),
    (
        "mha-key-feature",
        method(mha, "", x(B, T, D), x(B, T, 4)),
        V,
        r"key has last dimension 4, but d_model is 8",
    ),
    (
        "mha-value-feature",
        method(mha, "", x(B, T, D), x(B, T, D), x(B, T, 4)),
        V,
        r"value has last dimension 4, but d_model is 8",
    ),
    (
        "mha-key-value-length",
        method(mha, "", x(B, T, D), x(B, 3, D), x(B, 4, D)),
        V,
        r"key has \(B, T_k\) = \(2, 3\).*value has \(2, 4\)",
    ),
    (
        "mha-query-key-batch",
        method(mha, "", x(B, T, D), x(3, T, D)),
        V,
        r"query has batch size 2, but key has 3",
    ),
    (
        "mha-mask-3d",
        method(mha, "", x(B, T, D), mask=x(B, T, T, dtype=torch.bool)),
        V,
        r"mask must have shape \(T_q, T_k\) or \(B, H or 1, T_q, T_k\).*\(2, 5, 5\)",
    ),
    (
        "mha-mask-int",
        method(mha, "", x(B, T, D), mask=x(T, T, dtype=torch.long)),
        TY,
        r"mask must be bool.*int64",
    ),
    (
        "mha-mask-shape",
        method(mha, "", x(B, T, D), mask=x(T, T + 1, dtype=torch.bool)),
        V,
        r"mask has shape \(5, 6\)",
    ),
    (
        "mha-mask-batch",
        method(mha, "", x(B, T, D), mask=x(3, 1, T, T, dtype=torch.bool)),
        V,
        r"mask has shape \(3, 1, 5, 5\)",
    ),
    (
        "mha-rope-cross",
        method(lambda: mha(rope=True), "", x(B, T, D), x(B, T, D)),
        V,
        r"rope=True.*self-attention only.*cross-attention",
    ),
    (
        "mha-cache-type",
        method(mha, "", x(B, T, D), cache=[]),
        TY,
        r"cache must be a KVCache or None.*list",
    ),
    (
        "mha-input-on-meta",
        method(mha, "", x(B, T, D, device=META)),
        V,
        r"query is on device meta, but the module's parameters are on cpu",
    ),
    (
        "mha-module-on-meta",
        method(lambda: on_meta(mha()), "", x(B, T, D)),
        V,
        r"query is on device cpu, but the module's parameters are on meta",
    ),
    (
        "mha-key-on-meta",
        method(mha, "", x(B, T, D), x(B, T, D, device=META)),
        V,
        r"key is on device meta, but the module's parameters are on cpu",
    ),
    (
        "kvcache-capacity-zero",
        call(tl.KVCache, 0),
        V,
        r"capacity must be a positive int or None.*0",
    ),
    (
        "kvcache-batch-change",
        method(lambda: _filled_cache(), "update", x(3, H, 1, 4), x(3, H, 1, 4)),
        V,
        r"cache holds \(B, H_kv\) = \(2, 2\).*new keys have \(3, 2\)",
    ),
    # ---------------------------------------------------------------- positions
    (
        "sinusoidal-d-model-odd",
        call(tl.SinusoidalPositionalEncoding, 7),
        V,
        r"d_model must be even.*7",
    ),
    (
        "sinusoidal-d-model-zero",
        call(tl.SinusoidalPositionalEncoding, 0),
        V,
        r"d_model must be a positive int.*0",
    ),
    (
        "sinusoidal-max-len-zero",
        call(tl.SinusoidalPositionalEncoding, 8, 0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "sinusoidal-x-not-tensor",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", [1.0]),
        TY,
        r"x must be a tensor.*list",
    ),
    (
        "sinusoidal-x-rank",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(T, D)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(5, 8\)",
    ),
    (
        "sinusoidal-x-feature",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, T, 6)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 6\)",
    ),
    (
        "sinusoidal-too-long",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, 9, D)),
        V,
        r"positions 0\.\.8 do not fit in max_len=8",
    ),
    (
        "sinusoidal-offset-too-long",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, T, D), 4),
        V,
        r"positions 4\.\.8 do not fit in max_len=8",
    ),
    (
        "sinusoidal-offset-negative",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, T, D), -1),
        V,
        r"offset must be a non-negative int.*-1",
    ),
    (
        "sinusoidal-x-int",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, T, D, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "sinusoidal-x-on-meta",
        method(lambda: tl.SinusoidalPositionalEncoding(D, 8), "", x(B, T, D, device=META)),
        V,
        r"x is on device meta, but the module's .* on cpu",
    ),
    (
        "learned-max-len-zero",
        call(tl.LearnedPositionalEmbedding, 8, 0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "learned-d-model-bool",
        call(tl.LearnedPositionalEmbedding, True, 8),
        V,
        r"d_model must be a positive int.*True",
    ),
    (
        "learned-too-long",
        method(lambda: tl.LearnedPositionalEmbedding(D, 4), "", x(B, T, D)),
        V,
        r"positions 0\.\.4 do not fit in max_len=4",
    ),
    (
        "learned-x-feature",
        method(lambda: tl.LearnedPositionalEmbedding(D, 8), "", x(B, T, 4)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 4\)",
    ),
    (
        "learned-offset-negative",
        method(lambda: tl.LearnedPositionalEmbedding(D, 8), "", x(B, T, D), -2),
        V,
        r"offset must be a non-negative int.*-2",
    ),
    (
        "learned-x-int",
        method(lambda: tl.LearnedPositionalEmbedding(D, 8), "", x(B, T, D, dtype=torch.int32)),
        TY,
        r"x must be a floating-point tensor.*int32",
    ),
    (
        "learned-module-on-meta",
        method(lambda: on_meta(tl.LearnedPositionalEmbedding(D, 8)), "", x(B, T, D)),
        V,
        r"x is on device cpu, but the module's .* on meta",
    ),
    ("rotary-d-head-odd", call(tl.RotaryEmbedding, 5), V, r"d_head must be even.*5"),
    ("rotary-d-head-zero", call(tl.RotaryEmbedding, 0), V, r"d_head must be a positive int.*0"),
    ("rotary-base-one", call(tl.RotaryEmbedding, 4, base=1), V, r"base must be a number > 1.*1"),
    (
        "rotary-interleaved-str",
        call(tl.RotaryEmbedding, 4, interleaved="yes"),
        V,
        r"interleaved must be True or False.*'yes'",
    ),
    (
        "rotary-x-not-tensor",
        method(lambda: tl.RotaryEmbedding(4), "", [1.0]),
        TY,
        r"x must be a tensor.*list",
    ),
    (
        "rotary-x-feature",
        method(lambda: tl.RotaryEmbedding(4), "", x(B, H, T, 6)),
        V,
        r"x has last dimension 6, but d_head is 4",
    ),
    (
        "rotary-x-rank",
        method(lambda: tl.RotaryEmbedding(4), "", x(4)),
        V,
        r"x must have shape \(\.\.\., T, d_head\).*\(4,\)",
    ),
    (
        "rotary-x-int",
        method(lambda: tl.RotaryEmbedding(4), "", x(B, H, T, 4, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "rotary-offset-negative",
        method(lambda: tl.RotaryEmbedding(4), "", x(B, H, T, 4), -3),
        V,
        r"offset must be a non-negative int.*-3",
    ),
    (
        "rotary-x-on-meta",
        method(lambda: tl.RotaryEmbedding(4), "", x(B, H, T, 4, device=META)),
        V,
        r"x is on device meta, but the module's .* on cpu",
    ),
    ("alibi-slopes-zero", call(tl.alibi_slopes, 0), V, r"num_heads must be a positive int.*0"),
    ("alibi-bias-heads", call(tl.alibi_bias, -1, 4), V, r"num_heads must be a positive int.*-1"),
    ("alibi-bias-t-q", call(tl.alibi_bias, 2, 0), V, r"T_q must be a positive int.*0"),
    ("alibi-bias-t-k-short", call(tl.alibi_bias, 2, 5, 3), V, r"T_k must be at least T_q=5.*3"),
    # ---------------------------------------------------------------- norms
    ("layernorm-d-model-zero", call(tl.LayerNorm, 0), V, r"d_model must be a positive int.*0"),
    (
        "layernorm-eps-negative",
        call(tl.LayerNorm, 8, -1e-5),
        V,
        r"eps must be a number >= 0.*-1e-05",
    ),
    (
        "layernorm-x-feature",
        method(lambda: tl.LayerNorm(D), "", x(B, T, 6)),
        V,
        r"x has last dimension 6, but d_model is 8",
    ),
    (
        "layernorm-x-not-tensor",
        method(lambda: tl.LayerNorm(D), "", [0.0] * D),
        TY,
        r"x must be a tensor.*list",
    ),
    (
        "layernorm-x-int",
        method(lambda: tl.LayerNorm(D), "", x(B, T, D, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "layernorm-x-on-meta",
        method(lambda: tl.LayerNorm(D), "", x(B, T, D, device=META)),
        V,
        r"x is on device meta, but the module's parameters are on cpu",
    ),
    ("rmsnorm-d-model-negative", call(tl.RMSNorm, -1), V, r"d_model must be a positive int.*-1"),
    ("rmsnorm-eps-str", call(tl.RMSNorm, 8, "1e-6"), V, r"eps must be a number >= 0.*'1e-6'"),
    (
        "rmsnorm-x-feature",
        method(lambda: tl.RMSNorm(D), "", x(B, T, 4)),
        V,
        r"x has last dimension 4, but d_model is 8",
    ),
    (
        "rmsnorm-x-int",
        method(lambda: tl.RMSNorm(D), "", x(B, T, D, dtype=torch.int16)),
        TY,
        r"x must be a floating-point tensor.*int16",
    ),
    (
        "rmsnorm-module-on-meta",
        method(lambda: on_meta(tl.RMSNorm(D)), "", x(B, T, D)),
        V,
        r"x is on device cpu, but the module's parameters are on meta",
    ),
    # ------------------------------------------------------- feed-forward networks, residual
    ("ff-d-model-zero", call(tl.FeedForward, 0, 16), V, r"d_model must be a positive int.*0"),
    ("ff-d-ff-zero", call(tl.FeedForward, 8, 0), V, r"d_ff must be a positive int.*0"),
    ("ff-dropout-1", call(tl.FeedForward, 8, 16, 1.0), V, r"dropout must lie in \[0, 1\).*1\.0"),
    (
        "ff-activation",
        call(tl.FeedForward, 8, 16, activation="tanh"),
        V,
        r"activation must be one of.*'tanh'",
    ),
    (
        "ff-x-feature",
        method(lambda: tl.FeedForward(D, 16), "", x(B, T, 6)),
        V,
        r"x has last dimension 6, but d_model is 8",
    ),
    (
        "ff-x-int",
        method(lambda: tl.FeedForward(D, 16), "", x(B, T, D, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "ff-x-on-meta",
        method(lambda: tl.FeedForward(D, 16), "", x(B, T, D, device=META)),
        V,
        r"x is on device meta, but the module's parameters are on cpu",
    ),
    ("swiglu-d-ff-negative", call(tl.SwiGLU, 8, -4), V, r"d_ff must be a positive int.*-4"),
    (
        "swiglu-dropout-negative",
        call(tl.SwiGLU, 8, 16, -0.1),
        V,
        r"dropout must lie in \[0, 1\).*-0\.1",
    ),
    (
        "swiglu-x-feature",
        method(lambda: tl.SwiGLU(D, 16), "", x(B, T, 4)),
        V,
        r"x has last dimension 4, but d_model is 8",
    ),
    (
        "swiglu-module-on-meta",
        method(lambda: on_meta(tl.SwiGLU(D, 16)), "", x(B, T, D)),
        V,
        r"x is on device cpu, but the module's parameters are on meta",
    ),
    (
        "residual-norm-kind",
        call(tl.ResidualSublayer, 8, norm="batch"),
        V,
        r"norm must be one of \('layernorm', 'rmsnorm'\).*'layer', 'rms'.*'batch'",
    ),
    (
        "residual-dropout-1",
        call(tl.ResidualSublayer, 8, 1.0),
        V,
        r"dropout must lie in \[0, 1\).*1\.0",
    ),
    (
        "residual-d-model-zero",
        call(tl.ResidualSublayer, 0),
        V,
        r"d_model must be a positive int.*0",
    ),
    (
        "residual-sublayer-not-callable",
        method(lambda: tl.ResidualSublayer(D), "", x(B, T, D), 3),
        TY,
        r"sublayer must be callable.*int",
    ),
    # ---------------------------------------------------------------- encoder and decoder stacks
    ("encoder-layer-heads", call(tl.EncoderLayer, 8, 3), V, r"num_heads=3 must divide d_model=8"),
    ("encoder-layer-d-ff", call(tl.EncoderLayer, 8, 2, 0), V, r"d_ff must be a positive int.*0"),
    (
        "encoder-layer-dropout",
        call(tl.EncoderLayer, 8, 2, 16, 1.5),
        V,
        r"dropout must lie in \[0, 1\).*1\.5",
    ),
    (
        "encoder-layer-x-rank",
        method(lambda: tl.EncoderLayer(D, H), "", x(T, D)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(5, 8\)",
    ),
    (
        "encoder-layer-x-feature",
        method(lambda: tl.EncoderLayer(D, H, norm_first=True), "", x(B, T, 4)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 4\)",
    ),
    (
        "encoder-layer-x-int",
        method(lambda: tl.EncoderLayer(D, H), "", x(B, T, D, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "encoder-layer-mask-int",
        method(lambda: tl.EncoderLayer(D, H), "", x(B, T, D), x(T, T, dtype=torch.long)),
        TY,
        r"mask must be bool.*int64",
    ),
    (
        "encoder-layer-x-on-meta",
        method(lambda: tl.EncoderLayer(D, H), "", x(B, T, D, device=META)),
        V,
        r"x is on device meta, but the module's parameters are on cpu",
    ),
    (
        "encoder-num-layers-zero",
        call(tl.Encoder, 0, 8, 2),
        V,
        r"num_layers must be a positive int.*0",
    ),
    (
        "encoder-positional",
        call(tl.Encoder, 1, 8, 2, positional="absolute"),
        V,
        r"positional must be one of.*'absolute'",
    ),
    (
        "encoder-max-len-zero",
        call(tl.Encoder, 1, 8, 2, positional="learned", max_len=0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "encoder-kv-heads",
        call(tl.Encoder, 1, 8, 2, num_kv_heads=3),
        V,
        r"num_kv_heads=3 must divide num_heads=2",
    ),
    (
        "encoder-too-long",
        method(lambda: tl.Encoder(1, D, H, positional="sinusoidal", max_len=4), "", x(B, T, D)),
        V,
        r"positions 0\.\.4 do not fit in max_len=4",
    ),
    (
        "encoder-x-rank",
        method(lambda: tl.Encoder(1, D, H), "", x(B, T, D, 1)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 8, 1\)",
    ),
    (
        "encoder-x-feature-alibi",
        method(lambda: tl.Encoder(1, D, H, positional="alibi"), "", x(B, T, 4)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 4\)",
    ),
    (
        "encoder-x-int",
        method(lambda: tl.Encoder(1, D, H), "", x(B, T, D, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "encoder-mask-batch",
        method(lambda: tl.Encoder(1, D, H), "", x(B, T, D), x(3, 1, 1, T, dtype=torch.bool)),
        V,
        r"mask has shape \(3, 1, 1, 5\)",
    ),
    (
        "encoder-x-on-meta",
        method(lambda: tl.Encoder(1, D, H), "", x(B, T, D, device=META)),
        V,
        r"x is on device meta, but the module's parameters are on cpu",
    ),
    ("decoder-layer-heads", call(tl.DecoderLayer, 8, 5), V, r"num_heads=5 must divide d_model=8"),
    (
        "decoder-layer-memory-not-tensor",
        method(lambda: tl.DecoderLayer(D, H), "", x(B, T, D), None),
        TY,
        r"memory must be a tensor.*NoneType",
    ),
    (
        "decoder-layer-memory-feature",
        method(lambda: tl.DecoderLayer(D, H), "", x(B, T, D), x(B, 3, 4)),
        V,
        r"memory must have shape \(B, S, d_model=8\).*\(2, 3, 4\)",
    ),
    (
        "decoder-layer-memory-batch",
        method(lambda: tl.DecoderLayer(D, H), "", x(B, T, D), x(3, 4, D)),
        V,
        r"memory has batch size 3, but x has 2",
    ),
    (
        "decoder-layer-x-feature",
        method(lambda: tl.DecoderLayer(D, H), "", x(B, T, 6), x(B, 3, D)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 6\)",
    ),
    (
        "decoder-layer-memory-mask-int",
        method(
            lambda: tl.DecoderLayer(D, H),
            "",
            x(B, T, D),
            x(B, 3, D),
            memory_mask=x(B, 1, 1, 3, dtype=torch.long),
        ),
        TY,
        r"mask must be bool.*int64",
    ),
    ("decoder-num-layers", call(tl.Decoder, -1, 8, 2), V, r"num_layers must be a positive int.*-1"),
    (
        "decoder-memory-feature",
        method(lambda: tl.Decoder(1, D, H), "", x(B, T, D), x(B, 3, 6)),
        V,
        r"memory must have shape \(B, S, d_model=8\).*\(2, 3, 6\)",
    ),
    (
        "decoder-memory-batch",
        method(lambda: tl.Decoder(1, D, H), "", x(B, T, D), x(1, 3, D)),
        V,
        r"memory has batch size 1, but x has 2",
    ),
    (
        "decoder-x-feature",
        method(lambda: tl.Decoder(1, D, H, positional="rope"), "", x(B, T, 4), x(B, 3, D)),
        V,
        r"x must have shape \(B, T, d_model=8\).*\(2, 5, 4\)",
    ),
    (
        "decoder-too-long",
        method(
            lambda: tl.Decoder(1, D, H, positional="learned", max_len=4), "", x(B, T, D), x(B, 3, D)
        ),
        V,
        r"positions 0\.\.4 do not fit in max_len=4",
    ),
    (
        "decoder-caches-count",
        method(lambda: tl.Decoder(2, D, H), "", x(B, T, D), x(B, 3, D), caches=[tl.KVCache()]),
        V,
        r"caches must hold one KVCache per layer \(2\), but holds 1",
    ),
    (
        "decoder-memory-on-meta",
        method(lambda: tl.Decoder(1, D, H), "", x(B, T, D), x(B, 3, D, device=META)),
        V,
        r"memory is on device meta, but the module's parameters are on cpu",
    ),
    # ---------------------------------------------------------------- Transformer
    (
        "transformer-src-vocab-zero",
        call(tl.Transformer, 0, 10),
        V,
        r"src_vocab_size must be a positive int.*0",
    ),
    (
        "transformer-d-model-zero",
        lambda: transformer(d_model=0),
        V,
        r"d_model must be a positive int.*0",
    ),
    (
        "transformer-heads",
        lambda: transformer(num_heads=3),
        V,
        r"num_heads=3 must divide d_model=8",
    ),
    (
        "transformer-layers-zero",
        lambda: transformer(num_layers=0),
        V,
        r"num_layers must be a positive int.*0",
    ),
    ("transformer-d-ff-zero", lambda: transformer(d_ff=0), V, r"d_ff must be a positive int.*0"),
    (
        "transformer-dropout-1",
        lambda: transformer(dropout=1.0),
        V,
        r"dropout must lie in \[0, 1\).*1\.0",
    ),
    (
        "transformer-max-len-zero",
        lambda: transformer(max_len=0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "transformer-pad-id",
        lambda: transformer(pad_id=10),
        V,
        r"pad_id must be an int in \[0, 10\).*10",
    ),
    (
        "transformer-positional",
        lambda: transformer(positional="relative"),
        V,
        r"positional must be one of.*'relative'",
    ),
    (
        "transformer-src-float",
        method(transformer, "", x(B, T), ids(B, T)),
        TY,
        r"src must hold integer token ids.*float32",
    ),
    (
        "transformer-tgt-bool",
        method(transformer, "", ids(B, T), x(B, T, dtype=torch.bool)),
        TY,
        r"tgt must hold integer token ids.*bool",
    ),
    (
        "transformer-src-rank",
        method(transformer, "", ids(B * T), ids(B, T)),
        V,
        r"src must have shape \(B, T\).*\(10,\)",
    ),
    (
        "transformer-src-not-tensor",
        method(transformer, "", [[1, 2]], ids(B, T)),
        TY,
        r"src must be a tensor of token ids.*list",
    ),
    (
        "transformer-src-empty",
        method(transformer, "", ids(B, 0), ids(B, T)),
        V,
        r"src must hold at least one position.*\(B, 0\)",
    ),
    (
        "transformer-src-id-high",
        method(transformer, "", torch.tensor([[1, 10]]), ids(1, T)),
        V,
        r"src has ids from 1 to 10, but they must lie in \[0, 10\)",
    ),
    (
        "transformer-tgt-id-negative",
        method(transformer, "", ids(1, T), torch.tensor([[-1, 2]])),
        V,
        r"tgt has ids from -1 to 2, but they must lie in \[0, 12\)",
    ),
    (
        "transformer-src-too-long",
        method(transformer, "", ids(B, 9), ids(B, T)),
        V,
        r"src reaches position 9, but max_len is 8",
    ),
    (
        "transformer-tgt-too-long",
        method(transformer, "", ids(B, T), ids(B, 9)),
        V,
        r"tgt reaches position 9, but max_len is 8",
    ),
    (
        "transformer-batch-mismatch",
        method(transformer, "", ids(2, T), ids(3, T)),
        V,
        r"src has batch size 2, but tgt has 3",
    ),
    (
        "transformer-src-on-meta",
        method(transformer, "", ids(B, T, device=META), ids(B, T)),
        V,
        r"src is on device meta, but the module's parameters are on cpu",
    ),
    (
        "transformer-module-on-meta",
        method(lambda: on_meta(transformer()), "", ids(B, T), ids(B, T)),
        V,
        r"src is on device cpu, but the module's parameters are on meta",
    ),
    (
        "transformer-encode-float",
        method(transformer, "encode", x(B, T)),
        TY,
        r"src must hold integer token ids.*float32",
    ),
    (
        "transformer-decode-memory-rank",
        method(transformer, "decode", ids(B, T), x(B, D), x(B, 1, 1, 3, dtype=torch.bool)),
        V,
        r"memory must have shape \(B, S, d_model=8\).*\(2, 8\)",
    ),
    (
        "transformer-decode-memory-batch",
        method(transformer, "decode", ids(B, T), x(3, 4, D), x(3, 1, 1, 4, dtype=torch.bool)),
        V,
        r"tgt has batch size 2, but memory has 3",
    ),
    (
        "transformer-decode-src-mask-int",
        method(transformer, "decode", ids(B, T), x(B, 4, D), x(B, 1, 1, 4, dtype=torch.long)),
        TY,
        r"src_mask must be a bool tensor.*int64",
    ),
    (
        "transformer-decode-src-mask-shape",
        method(transformer, "decode", ids(B, T), x(B, 4, D), x(B, 1, 1, 3, dtype=torch.bool)),
        V,
        r"src_mask must have shape \(B, 1, 1, S\) = \(2, 1, 1, 4\).*\(2, 1, 1, 3\)",
    ),
    (
        "transformer-decode-tgt-too-long",
        method(transformer, "decode", ids(B, 9), x(B, 4, D), x(B, 1, 1, 4, dtype=torch.bool)),
        V,
        r"tgt reaches position 9, but max_len is 8",
    ),
    # ---------------------------------------------------------------- decoding
    (
        "greedy-bos-negative",
        lambda: tl.greedy_decode(transformer(), ids(B, T), bos_id=-1, eos_id=2, max_len=5),
        V,
        r"bos_id must be a non-negative int.*-1",
    ),
    (
        "greedy-eos-str",
        lambda: tl.greedy_decode(transformer(), ids(B, T), bos_id=1, eos_id="2", max_len=5),
        V,
        r"eos_id must be a non-negative int.*'2'",
    ),
    (
        "greedy-bos-too-big",
        lambda: tl.greedy_decode(transformer(), ids(B, T), bos_id=12, eos_id=2, max_len=5),
        V,
        r"bos_id must be a target id in \[0, 12\).*12",
    ),
    (
        "greedy-max-len-zero",
        lambda: tl.greedy_decode(transformer(), ids(B, T), bos_id=1, eos_id=2, max_len=0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "greedy-bos-is-pad",
        lambda: tl.greedy_decode(transformer(), ids(B, T), bos_id=0, eos_id=2, max_len=5),
        V,
        r"bos_id=0 equals the model's pad_id",
    ),
    (
        "greedy-src-rank",
        lambda: tl.greedy_decode(transformer(), ids(T), bos_id=1, eos_id=2, max_len=5),
        V,
        r"src must be a \(B, S\) tensor of token ids.*\(5,\)",
    ),
    (
        "greedy-src-float",
        lambda: tl.greedy_decode(transformer(), x(B, T), bos_id=1, eos_id=2, max_len=5),
        TY,
        r"src must hold integer token ids.*float32",
    ),
    (
        "greedy-model-type",
        lambda: tl.greedy_decode(nn.Linear(2, 2), ids(B, T), bos_id=1, eos_id=2, max_len=5),
        TY,
        r"model must have the Transformer interface.*Linear",
    ),
    (
        "beam-size-zero",
        lambda: tl.beam_search(
            transformer(), ids(B, T), bos_id=1, eos_id=2, max_len=5, beam_size=0
        ),
        V,
        r"beam_size must be a positive int.*0",
    ),
    (
        "beam-length-penalty-negative",
        lambda: tl.beam_search(
            transformer(), ids(B, T), bos_id=1, eos_id=2, max_len=5, length_penalty=-1.0
        ),
        V,
        r"length_penalty must be a number >= 0.*-1\.0",
    ),
    (
        "beam-length-penalty-str",
        lambda: tl.beam_search(
            transformer(), ids(B, T), bos_id=1, eos_id=2, max_len=5, length_penalty="0.6"
        ),
        V,
        r"length_penalty must be a number >= 0.*'0\.6'",
    ),
    (
        "beam-src-id-high",
        lambda: tl.beam_search(
            transformer(), torch.tensor([[3, 11]]), bos_id=1, eos_id=2, max_len=5
        ),
        V,
        r"src has ids from 3 to 11, but they must lie in \[0, 10\)",
    ),
    # ---------------------------------------------------------------- GPT
    (
        "gptconfig-vocab-zero",
        call(GPTConfig, vocab_size=0),
        V,
        r"vocab_size must be a positive int.*0",
    ),
    (
        "gptconfig-d-model-zero",
        call(GPTConfig, vocab_size=10, d_model=0),
        V,
        r"d_model must be a positive int.*0",
    ),
    (
        "gptconfig-max-len-negative",
        call(GPTConfig, vocab_size=10, max_len=-1),
        V,
        r"max_len must be a positive int.*-1",
    ),
    (
        "gptconfig-heads",
        call(GPTConfig, vocab_size=10, d_model=64, num_heads=5),
        V,
        r"num_heads=5 must divide d_model=64",
    ),
    (
        "gptconfig-kv-heads",
        call(GPTConfig, vocab_size=10, d_model=64, num_heads=4, num_kv_heads=3),
        V,
        r"num_kv_heads=3 must divide num_heads=4",
    ),
    (
        "gptconfig-dropout-1",
        call(GPTConfig, vocab_size=10, dropout=1.0),
        V,
        r"dropout must lie in \[0, 1\).*1\.0",
    ),
    (
        "gptconfig-dropout-str",
        call(GPTConfig, vocab_size=10, dropout="0.1"),
        V,
        r"dropout must be a number in \[0, 1\).*'0\.1'",
    ),
    (
        "gptconfig-positional",
        call(GPTConfig, vocab_size=10, positional="sinusoidal"),
        V,
        r"positional must be one of.*'sinusoidal'",
    ),
    (
        "gptconfig-norm",
        call(GPTConfig, vocab_size=10, norm="batchnorm"),
        V,
        r"norm must be one of.*'batchnorm'",
    ),
    (
        "gptconfig-activation",
        call(GPTConfig, vocab_size=10, activation="tanh"),
        V,
        r"activation must be one of.*'tanh'",
    ),
    (
        "gptconfig-rope-odd-head",
        call(GPTConfig, vocab_size=10, d_model=6, num_heads=2, positional="rope"),
        V,
        r"positional='rope' needs an even head size.*3",
    ),
    (
        "gptconfig-norm-eps",
        call(GPTConfig, vocab_size=10, norm_eps=0),
        V,
        r"norm_eps must be a positive number.*0",
    ),
    ("gpt-config-dict", call(GPT, {"vocab_size": 10}), TY, r"config must be a GPTConfig.*dict"),
    (
        "gptblock-config-dict",
        call(GPTBlock, {"vocab_size": 10}),
        TY,
        r"config must be a GPTConfig.*dict",
    ),
    ("gpt-idx-float", method(gpt, "", x(B, T)), TY, r"idx must hold integer token ids.*float32"),
    (
        "gpt-idx-not-tensor",
        method(gpt, "", [[1, 2]]),
        TY,
        r"idx must be a \(B, T\) tensor of token ids.*list",
    ),
    (
        "gpt-idx-rank",
        method(gpt, "", ids(T)),
        V,
        r"idx must have shape \(B, T\) with T >= 1.*\(5,\)",
    ),
    (
        "gpt-idx-empty",
        method(gpt, "", ids(B, 0)),
        V,
        r"idx must have shape \(B, T\) with T >= 1.*\(2, 0\)",
    ),
    (
        "gpt-idx-high",
        method(gpt, "", torch.tensor([[0, 10]])),
        V,
        r"idx must hold ids in \[0, vocab_size=10\).*0 to 10",
    ),
    (
        "gpt-idx-negative",
        method(gpt, "", torch.tensor([[-5, 3]])),
        V,
        r"idx must hold ids in \[0, vocab_size=10\).*-5 to 3",
    ),
    ("gpt-idx-too-long", method(gpt, "", ids(B, 9)), V, r"idx has T=9 positions, but max_len is 8"),
    (
        "gpt-rope-too-long",
        method(lambda: gpt(positional="rope"), "", ids(B, 9)),
        V,
        r"idx has T=9 positions, but max_len is 8",
    ),
    (
        "gpt-caches-count",
        method(gpt, "", ids(B, T), caches=[tl.KVCache(), tl.KVCache()]),
        V,
        r"caches must be a list of one KVCache per block \(1\), but got 2",
    ),
    (
        "gpt-idx-on-meta",
        method(gpt, "", ids(B, T, device=META)),
        V,
        r"idx is on device meta, but the module's parameters are on cpu",
    ),
    (
        "gpt-module-on-meta",
        method(lambda: on_meta(gpt()), "", ids(B, T)),
        V,
        r"idx is on device cpu, but the module's parameters are on meta",
    ),
    (
        "gpt-generate-max-new",
        method(gpt, "generate", ids(B, T), -1),
        V,
        r"max_new_tokens must be an int >= 0.*-1",
    ),
    (
        "gpt-generate-temperature",
        method(gpt, "generate", ids(B, T), 2, temperature=-1.0),
        V,
        r"temperature must be >= 0.*-1\.0",
    ),
    (
        "gpt-generate-top-k",
        method(gpt, "generate", ids(B, T), 2, top_k=0),
        V,
        r"top_k must be a positive int.*0",
    ),
    (
        "gpt-generate-top-p",
        method(gpt, "generate", ids(B, T), 2, top_p=1.5),
        V,
        r"top_p must be a number in \(0, 1\].*1\.5",
    ),
    (
        "gpt-generate-eos",
        method(gpt, "generate", ids(B, T), 2, eos_id=10),
        V,
        r"eos_id must be an int in \[0, vocab_size=10\).*10",
    ),
    (
        "gpt-generate-idx-float",
        method(gpt, "generate", x(B, T), 2),
        TY,
        r"idx must hold integer token ids.*float32",
    ),
    (
        "gpt-generate-idx-high",
        method(gpt, "generate", torch.tensor([[11]]), 2),
        V,
        r"idx must hold ids in \[0, vocab_size=10\).*11",
    ),
    (
        "gpt-generate-stream-top-k",
        method(gpt, "generate_stream", ids(B, T), 2, top_k=-2),
        V,
        r"top_k must be a positive int.*-2",
    ),
    (
        "gpt-generate-on-meta",
        method(gpt, "generate", ids(B, T, device=META), 2),
        V,
        r"idx is on device meta, but the module's parameters are on cpu",
    ),
    # ---------------------------------------------------------------- BERT
    (
        "bertconfig-vocab-zero",
        call(BERTConfig, vocab_size=0),
        V,
        r"vocab_size must be a positive int.*0",
    ),
    (
        "bertconfig-heads",
        call(BERTConfig, vocab_size=10, d_model=64, num_heads=6),
        V,
        r"num_heads=6 must divide d_model=64",
    ),
    (
        "bertconfig-pad-id",
        call(BERTConfig, vocab_size=10, pad_id=10),
        V,
        r"pad_id must be an int in \[0, vocab_size=10\).*10",
    ),
    (
        "bertconfig-dropout-1",
        call(BERTConfig, vocab_size=10, dropout=1.0),
        V,
        r"dropout must be a float in \[0, 1\).*1\.0",
    ),
    (
        "bertconfig-type-vocab-zero",
        call(BERTConfig, vocab_size=10, type_vocab_size=0),
        V,
        r"type_vocab_size must be a positive int.*0",
    ),
    (
        "bertconfig-max-len-zero",
        call(BERTConfig, vocab_size=10, max_len=0),
        V,
        r"max_len must be a positive int.*0",
    ),
    (
        "bertconfig-num-labels-zero",
        call(BERTConfig, vocab_size=10, num_labels=0),
        V,
        r"num_labels must be a positive int.*0",
    ),
    (
        "bertconfig-pooling",
        call(BERTConfig, vocab_size=10, classifier_pooling="max"),
        V,
        r"classifier_pooling must be 'cls' or 'mean'.*'max'",
    ),
    ("bert-config-dict", call(BERT, {"vocab_size": 10}), TY, r"config must be a BERTConfig.*dict"),
    (
        "bert-mlm-config-dict",
        call(BERTForMaskedLM, {"vocab_size": 10}),
        TY,
        r"config must be a BERTConfig.*dict",
    ),
    (
        "bert-cls-config-dict",
        call(BERTForSequenceClassification, {"vocab_size": 10}, 3),
        TY,
        r"config must be a BERTConfig.*dict",
    ),
    (
        "bert-cls-num-labels-zero",
        call(BERTForSequenceClassification, bert_config(), 0),
        V,
        r"num_labels must be a positive int.*0",
    ),
    (
        "bert-input-ids-float",
        method(lambda: BERT(bert_config()), "", x(B, T)),
        TY,
        r"input_ids must hold integer ids.*float32",
    ),
    (
        "bert-input-ids-rank",
        method(lambda: BERT(bert_config()), "", ids(B, T, 1)),
        V,
        r"input_ids must have shape \(B, T\).*\(2, 5, 1\)",
    ),
    (
        "bert-input-ids-high",
        method(lambda: BERT(bert_config()), "", torch.tensor([[1, 10]])),
        V,
        r"input_ids must lie in \[0, 10\).*1 to 10",
    ),
    (
        "bert-input-ids-negative",
        method(lambda: BERT(bert_config()), "", torch.tensor([[-1, 1]])),
        V,
        r"input_ids must lie in \[0, 10\).*-1 to 1",
    ),
    (
        "bert-input-ids-too-long",
        method(lambda: BERT(bert_config()), "", ids(B, 9)),
        V,
        r"input_ids has length T=9, but max_len is 8",
    ),
    (
        "bert-input-ids-empty",
        method(lambda: BERT(bert_config()), "", ids(B, 0)),
        V,
        r"input_ids must have shape \(B, T\) with T >= 1.*\(2, 0\)",
    ),
    (
        "bert-attention-mask-batch",
        method(lambda: BERT(bert_config()), "", ids(B, T), torch.ones(3, T)),
        V,
        r"attention_mask must have the shape of input_ids \(2, 5\).*\(3, 5\)",
    ),
    (
        "bert-attention-mask-list",
        method(lambda: BERT(bert_config()), "", ids(B, T), [[1] * T] * B),
        TY,
        r"attention_mask must be a tensor.*list",
    ),
    (
        "bert-token-types-high",
        method(lambda: BERT(bert_config()), "", ids(B, T), None, torch.full((B, T), 2)),
        V,
        r"token_type_ids must lie in \[0, 2\).*2 to 2",
    ),
    (
        "bert-token-types-shape",
        method(lambda: BERT(bert_config()), "", ids(B, T), None, ids(B, 4, high=2)),
        V,
        r"token_type_ids must have the shape of input_ids \(2, 5\).*\(2, 4\)",
    ),
    (
        "bert-input-on-meta",
        method(lambda: BERT(bert_config()), "", ids(B, T, device=META)),
        V,
        r"input_ids is on device meta, but the module's parameters are on cpu",
    ),
    (
        "bert-mask-on-meta",
        method(lambda: BERT(bert_config()), "", ids(B, T), torch.ones(B, T, device=META)),
        V,
        r"attention_mask is on device meta, but input_ids is on cpu",
    ),
    (
        "bert-module-on-meta",
        method(lambda: on_meta(BERT(bert_config())), "", ids(B, T)),
        V,
        r"input_ids is on device cpu, but the module's parameters are on meta",
    ),
    (
        "bert-pool-no-pooler",
        method(lambda: BERT(bert_config(), add_pooler=False), "pool", x(B, T, D)),
        V,
        r"no pooler.*add_pooler=False",
    ),
    (
        "bert-pool-hidden-feature",
        method(lambda: BERT(bert_config()), "pool", x(B, T, 4)),
        V,
        r"hidden must have shape \(B, T, d_model=8\).*\(2, 5, 4\)",
    ),
    (
        "mlm-labels-shape",
        method(lambda: BERTForMaskedLM(bert_config()), "", ids(B, T), labels=ids(B, 4)),
        V,
        r"labels must have shape \(B, T\) = \(2, 5\).*\(2, 4\)",
    ),
    (
        "mlm-labels-float",
        method(lambda: BERTForMaskedLM(bert_config()), "", ids(B, T), labels=x(B, T)),
        TY,
        r"labels must hold integer class ids.*float32",
    ),
    (
        "mlm-labels-high",
        method(
            lambda: BERTForMaskedLM(bert_config()), "", ids(B, T), labels=torch.full((B, T), 10)
        ),
        V,
        r"labels must be -100 or lie in \[0, 10\).*10 to 10",
    ),
    (
        "mlm-input-ids-float",
        method(lambda: BERTForMaskedLM(bert_config()), "", x(B, T)),
        TY,
        r"input_ids must hold integer ids.*float32",
    ),
    (
        "cls-labels-batch",
        method(
            lambda: BERTForSequenceClassification(bert_config()),
            "",
            ids(B, T),
            labels=torch.tensor([0, 1, 1]),
        ),
        V,
        r"labels must have shape \(B,\) = \(2,\).*\(3,\)",
    ),
    (
        "cls-labels-high",
        method(
            lambda: BERTForSequenceClassification(bert_config()),
            "",
            ids(B, T),
            labels=torch.tensor([0, 2]),
        ),
        V,
        r"labels must be -100 or lie in \[0, 2\).*0 to 2",
    ),
    (
        "cls-labels-float",
        method(
            lambda: BERTForSequenceClassification(bert_config()),
            "",
            ids(B, T),
            labels=torch.tensor([0.0, 1.0]),
        ),
        TY,
        r"labels must hold integer class ids.*float32",
    ),
    (
        "cls-regression-labels-shape",
        method(
            lambda: BERTForSequenceClassification(bert_config(), 1), "", ids(B, T), labels=x(B, 1)
        ),
        V,
        r"labels must have shape \(B,\) = \(2,\).*\(2, 1\)",
    ),
    (
        "cls-mean-mask-batch",
        method(
            lambda: BERTForSequenceClassification(bert_config(classifier_pooling="mean")),
            "",
            ids(B, T),
            torch.ones(1, T),
        ),
        V,
        r"attention_mask must have the shape of input_ids \(2, 5\).*\(1, 5\)",
    ),
    (
        "cls-from-encoder-type",
        call(BERTForSequenceClassification.from_encoder, nn.Linear(2, 2)),
        TY,
        r"encoder must be a BERT.*Linear",
    ),
    (
        "mask-tokens-vocab-zero",
        call(tl.mask_tokens, ids(B, T), vocab_size=0, mask_id=1),
        V,
        r"vocab_size must be a positive int.*0",
    ),
    (
        "mask-tokens-ids-float",
        call(tl.mask_tokens, x(B, T), vocab_size=10, mask_id=1),
        TY,
        r"input_ids must hold integer ids.*float32",
    ),
    (
        "mask-tokens-ids-high",
        call(tl.mask_tokens, torch.tensor([[12]]), vocab_size=10, mask_id=1),
        V,
        r"input_ids must lie in \[0, 10\).*12",
    ),
    (
        "mask-tokens-mask-id",
        call(tl.mask_tokens, ids(B, T), vocab_size=10, mask_id=10),
        V,
        r"mask_id, special_ids and pad_id must be ints in \[0, vocab_size=10\).*10",
    ),
    (
        "mask-tokens-prob",
        call(tl.mask_tokens, ids(B, T), vocab_size=10, mask_id=1, mask_prob=1.5),
        V,
        r"mask_prob must be a float in \[0, 1\].*1\.5",
    ),
    (
        "span-corruption-ids-rank",
        call(tl.span_corruption, ids(B, T), sentinel_ids=[100, 101]),
        V,
        r"ids must be 1-D.*\(2, 5\)",
    ),
    (
        "span-corruption-ids-float",
        call(tl.span_corruption, x(T), sentinel_ids=[100, 101]),
        TY,
        r"ids must be an integer tensor.*float32",
    ),
    (
        "span-corruption-density",
        call(tl.span_corruption, ids(T), sentinel_ids=[100, 101], noise_density=1.5),
        V,
        r"noise_density must be in \(0, 1\).*1\.5",
    ),
    (
        "span-corruption-too-few-sentinels",
        call(tl.span_corruption, ids(100), sentinel_ids=[100, 101]),
        V,
        r"sentinel_ids must hold at least 6 ids.*got 2",
    ),
    (
        "mean-pool-hidden-rank",
        call(tl.mean_pool, x(B, D)),
        V,
        r"hidden must have shape \(B, T, d\).*\(2, 8\)",
    ),
    ("mean-pool-hidden-list", call(tl.mean_pool, [[1.0]]), TY, r"hidden must be a tensor.*list"),
    (
        "mean-pool-hidden-int",
        call(tl.mean_pool, x(B, T, D, dtype=torch.long)),
        TY,
        r"hidden must be a floating-point tensor.*int64",
    ),
    (
        "mean-pool-mask-batch",
        call(tl.mean_pool, x(B, T, D), torch.ones(3, T)),
        V,
        r"attention_mask must have shape \(B, T\) = \(2, 5\).*\(3, 5\)",
    ),
    (
        "mean-pool-mask-on-meta",
        call(tl.mean_pool, x(B, T, D), torch.ones(B, T, device=META)),
        V,
        r"attention_mask is on device meta, but hidden is on cpu",
    ),
    # ---------------------------------------------------------------- LoRA
    (
        "lora-base-type",
        call(tl.LoRALinear, nn.Conv1d(2, 2, 1), 2),
        TY,
        r"base must be an nn\.Linear.*Conv1d",
    ),
    ("lora-r-zero", call(tl.LoRALinear, nn.Linear(4, 4), 0), V, r"r must be a positive int.*0"),
    (
        "lora-alpha-negative",
        call(tl.LoRALinear, nn.Linear(4, 4), 2, -1.0),
        V,
        r"alpha must be a positive number.*-1\.0",
    ),
    (
        "lora-dropout-1",
        call(tl.LoRALinear, nn.Linear(4, 4), 2, dropout=1.0),
        V,
        r"dropout must lie in \[0, 1\).*1\.0",
    ),
    (
        "lora-x-feature",
        method(lambda: tl.LoRALinear(nn.Linear(4, 3), 2), "", x(B, 5)),
        V,
        r"x has last dimension 5, but in_features is 4",
    ),
    (
        "lora-x-int",
        method(lambda: tl.LoRALinear(nn.Linear(4, 3), 2), "", x(B, 4, dtype=torch.long)),
        TY,
        r"x must be a floating-point tensor.*int64",
    ),
    (
        "lora-x-on-meta",
        method(lambda: tl.LoRALinear(nn.Linear(4, 3), 2), "", x(B, 4, device=META)),
        V,
        r"x is on device meta, but the module's parameters are on cpu",
    ),
    ("add-lora-model-type", call(tl.add_lora, "gpt", 2), TY, r"model must be an nn\.Module.*str"),
    (
        "add-lora-targets-empty",
        call(tl.add_lora, nn.Linear(2, 2), 2, target_modules=[]),
        V,
        r"target_modules must be non-empty names.*\[\]",
    ),
    (
        "add-lora-targets-no-match",
        lambda: tl.add_lora(gpt(), 2, target_modules=["query"]),
        V,
        r"target_modules=\('query',\) match no nn\.Linear.*q_proj",
    ),
    ("add-lora-r-zero", lambda: tl.add_lora(gpt(), 0), V, r"r must be a positive int.*0"),
    (
        "lora-parameters-model-type",
        call(tl.lora_parameters, [nn.Linear(2, 2)]),
        TY,
        r"model must be an nn\.Module.*list",
    ),
    (
        "merge-lora-model-type",
        call(tl.merge_lora, None),
        TY,
        r"model must be an nn\.Module.*NoneType",
    ),
    # ---------------------------------------------------------------- schedules and optimiser
    (
        "warmup-steps-negative",
        lambda: tl.warmup_schedule(optimizer(), -1),
        V,
        r"warmup_steps must be an int >= 0.*-1",
    ),
    (
        "warmup-optimizer-type",
        call(tl.warmup_schedule, nn.Linear(2, 2), 10),
        TY,
        r"optimizer must be a torch\.optim\.Optimizer.*Linear",
    ),
    (
        "noam-d-model-zero",
        lambda: tl.noam_schedule(optimizer(), 0, 10),
        V,
        r"d_model must be an int >= 1.*0",
    ),
    (
        "noam-warmup-zero",
        lambda: tl.noam_schedule(optimizer(), 8, 0),
        V,
        r"warmup_steps must be an int >= 1.*0",
    ),
    (
        "cosine-total-zero",
        lambda: tl.cosine_schedule(optimizer(), 0, 0),
        V,
        r"total_steps must be an int >= 1.*0",
    ),
    (
        "cosine-warmup-exceeds",
        lambda: tl.cosine_schedule(optimizer(), 20, 10),
        V,
        r"warmup_steps \(20\) must not exceed total_steps \(10\)",
    ),
    (
        "cosine-min-factor",
        lambda: tl.cosine_schedule(optimizer(), 1, 10, min_factor=1.5),
        V,
        r"min_factor must be a number in \[0, 1\].*1\.5",
    ),
    (
        "optimizer-lr-zero",
        lambda: tl.configure_optimizer(nn.Linear(2, 2), 0.0),
        V,
        r"lr must be a number in \(0\.0, inf\).*0\.0",
    ),
    (
        "optimizer-weight-decay",
        lambda: tl.configure_optimizer(nn.Linear(2, 2), 1e-3, weight_decay=-1),
        V,
        r"weight_decay must be a number in \[0\.0, inf\).*-1",
    ),
    (
        "optimizer-betas",
        lambda: tl.configure_optimizer(nn.Linear(2, 2), 1e-3, betas=(0.9,)),
        V,
        r"betas must be a pair of numbers in \[0, 1\).*\(0\.9,\)",
    ),
    (
        "optimizer-beta-1",
        lambda: tl.configure_optimizer(nn.Linear(2, 2), 1e-3, betas=(0.9, 1.0)),
        V,
        r"betas\[1\] must be a number in \[0\.0, 1\.0\).*1\.0",
    ),
    (
        "optimizer-model-type",
        call(tl.configure_optimizer, "model", 1e-3),
        TY,
        r"model must be an nn\.Module.*str",
    ),
    (
        "parameter-groups-model-type",
        call(tl.parameter_groups, [nn.Linear(2, 2)]),
        TY,
        r"model must be an nn\.Module.*list",
    ),
    # ---------------------------------------------------------------- metrics
    (
        "bleu-str",
        call(tl.bleu, "a b", ["a b"]),
        TY,
        r"hypotheses and references must be lists of strings.*one string",
    ),
    (
        "bleu-length",
        call(tl.bleu, ["a"], ["a", "b"]),
        V,
        r"hypotheses has 1 sentences but references has 2",
    ),
    (
        "chrf-length",
        call(tl.chrf, ["a", "b"], ["a"]),
        V,
        r"hypotheses has 2 sentences but references has 1",
    ),
    ("exact-match-empty", call(tl.exact_match, [], []), V, r"hypotheses and references are empty"),
    (
        "exact-match-non-str",
        call(tl.exact_match, [1], ["1"]),
        TY,
        r"hypotheses must hold strings.*int",
    ),
    (
        "perplexity-negative",
        call(tl.perplexity, -0.5),
        V,
        r"mean_cross_entropy must be a number >= 0.*-0\.5",
    ),
    (
        "perplexity-nan",
        call(tl.perplexity, float("nan")),
        V,
        r"mean_cross_entropy must be a number >= 0.*nan",
    ),
    (
        "perplexity-str",
        call(tl.perplexity, "low"),
        V,
        r"mean_cross_entropy must be a number >= 0.*'low'",
    ),
    # ---------------------------------------------------------------- data and tokenizers
    (
        "char-tokenizer-str",
        call(tl.CharTokenizer, "abc"),
        TY,
        r"texts must be an iterable of strings, not one string",
    ),
    ("char-tokenizer-ints", call(tl.CharTokenizer, [1, 2]), TY, r"texts must contain strings.*int"),
    (
        "char-encode-bytes",
        method(lambda: tl.CharTokenizer(["ab"]), "encode", b"ab"),
        TY,
        r"text must be a str.*bytes",
    ),
    (
        "char-decode-id-high",
        method(lambda: tl.CharTokenizer(["ab"]), "decode", [1, 99]),
        V,
        r"id 99 is outside the vocabulary of size 6",
    ),
    (
        "char-decode-2d",
        method(lambda: tl.CharTokenizer(["ab"]), "decode", torch.zeros(2, 2, dtype=torch.long)),
        V,
        r"ids must be 1-D.*\(2, 2\)",
    ),
    (
        "word-tokenizer-min-count",
        call(tl.WordTokenizer, ["a b"], min_count=0),
        V,
        r"min_count must be an int >= 1.*0",
    ),
    (
        "word-tokenizer-min-count-str",
        call(tl.WordTokenizer, ["a b"], min_count="2"),
        V,
        r"min_count must be an int >= 1.*'2'",
    ),
    (
        "word-tokenizer-max-size",
        call(tl.WordTokenizer, ["a b"], max_size=-1),
        V,
        r"max_size must be an int >= 0 or None.*-1",
    ),
    (
        "word-decode-negative",
        method(lambda: tl.WordTokenizer(["a b"]), "decode", [-1]),
        V,
        r"id -1 is outside the vocabulary of size 6",
    ),
    (
        "pad-batch-empty",
        call(tl.pad_batch, []),
        V,
        r"sequences must hold at least one sequence.*empty",
    ),
    (
        "pad-batch-str",
        call(tl.pad_batch, "abc"),
        TY,
        r"sequences must be a sequence of id sequences.*str",
    ),
    (
        "pad-batch-float-ids",
        call(tl.pad_batch, [[1.5, 2.0]]),
        TY,
        r"sequences must hold integer ids.*float",
    ),
    (
        "pad-batch-pad-id",
        call(tl.pad_batch, [[1, 2]], pad_id=0.5),
        V,
        r"pad_id must be an int.*0\.5",
    ),
    (
        "bucket-batch-size-zero",
        call(tl.bucket_batches, [3, 4], 0),
        V,
        r"batch_size must be a positive int.*0",
    ),
    (
        "bucket-pool-zero",
        call(tl.bucket_batches, [3, 4], 2, pool_batches=0),
        V,
        r"pool_batches must be a positive int.*0",
    ),
    ("number-pairs-float", call(tl.number_pairs, [1.5]), TY, r"numbers must be ints.*1\.5"),
    (
        "number-pairs-lang",
        call(tl.number_pairs, [1], tgt_lang="xx-nope"),
        V,
        r"tgt_lang='xx-nope' is not a language num2words knows",
    ),
    (
        "train-test-max-number",
        call(tl.train_test_numbers, 0),
        V,
        r"max_number must be an int >= 1.*0",
    ),
    (
        "train-test-fraction",
        call(tl.train_test_numbers, 10, 1.5),
        V,
        r"test_fraction must be between 0 and 1.*1\.5",
    ),
    (
        "parallel-corpus-missing",
        call(tl.load_parallel_corpus, "/nonexistent/corpus.tsv"),
        FileNotFoundError,
        r"parallel corpus not found at /nonexistent/corpus\.tsv",
    ),
    (
        "bpe-specials-str",
        call(tl.BPETokenizer, special_tokens="<pad>"),
        TY,
        r"special_tokens must be a sequence of strings, not one string",
    ),
    (
        "bpe-specials-duplicate",
        call(tl.BPETokenizer, special_tokens=["<a>", "<a>"]),
        V,
        r"special_tokens has duplicates.*<a>",
    ),
    (
        "bpe-merge-unknown-id",
        call(tl.BPETokenizer, [(9999, 3)]),
        V,
        r"merge \(9999, 3\) uses id 9999, not a byte or earlier token",
    ),
    (
        "bpe-train-vocab-small",
        call(tl.BPETokenizer.train, "abc", vocab_size=10),
        V,
        r"vocab_size must be an int >= 259 \(256 bytes \+ 3 special tokens\).*10",
    ),
    (
        "bpe-train-texts-ints",
        call(tl.BPETokenizer.train, [1, 2], vocab_size=300),
        TY,
        r"text_or_texts must contain str.*int",
    ),
    (
        "bpe-decode-id-high",
        method(tl.BPETokenizer, "decode", [100000]),
        V,
        r"id 100000 is outside the vocabulary of size 259",
    ),
    ("bpe-encode-bytes", method(tl.BPETokenizer, "encode", b"x"), TY, r"text must be a str.*bytes"),
    (
        "train-bpe-vocab-small",
        call(tl.train_bpe, "abc", 5),
        V,
        r"vocab_size must be an int >= 259 \(256 bytes \+ 3 special tokens\).*5",
    ),
    # ---------------------------------------------------------------- tasks
    ("lookup-batch-zero", call(tl.key_value_lookup, 0), V, r"batch_size must be a positive int.*0"),
    (
        "lookup-num-keys",
        call(tl.key_value_lookup, 2, num_pairs=8, num_keys=4),
        V,
        r"num_keys must be at least num_pairs=8.*4",
    ),
    (
        "lookup-num-keys-str",
        call(tl.key_value_lookup, 2, num_keys="32"),
        V,
        r"num_keys must be a positive int.*'32'",
    ),
    (
        "shifted-copy-shift",
        call(tl.shifted_copy, 2, 4, shift=4),
        V,
        r"shift must be smaller than seq_len=4.*4",
    ),
    (
        "shifted-copy-vocab",
        call(tl.shifted_copy, 2, 4, vocab_size=0),
        V,
        r"vocab_size must be a positive int.*0",
    ),
    # ------------------------------------------------------- corpora, measuring, plots, devices
    ("shakespeare-unknown-play", call(tl.load_shakespeare, "Hamlet II"), V, r"plays.*'Hamlet II'"),
    (
        "shakespeare-play-int",
        call(tl.load_shakespeare, [3]),
        TY,
        r"plays must contain play names \(str\).*3",
    ),
    ("genre-length-zero", call(tl.genre_passages, length=0), V, r"length must be an int >= 1.*0"),
    (
        "split-by-play-type",
        call(tl.split_by_play, ["text"]),
        TY,
        r"passages must contain Passage objects.*str",
    ),
    ("time-call-not-callable", call(tl.time_call, 3), TY, r"fn must be callable.*int"),
    (
        "time-call-min-run-time",
        call(tl.time_call, lambda: None, min_run_time=-1.0),
        V,
        r"min_run_time must be a number > 0.*-1\.0",
    ),
    ("peak-memory-not-callable", call(tl.peak_memory, "f"), TY, r"fn must be callable.*str"),
    (
        "plot-attention-rank",
        call(tl.plot_attention, x(2, 3, 4)),
        V,
        r"weights must be a \(T_q, T_k\) matrix.*\(2, 3, 4\)",
    ),
    (
        "plot-attention-labels",
        call(tl.plot_attention, x(3, 4), x_labels=["a"]),
        V,
        r"x_labels has 1 labels, but weights has 4 keys",
    ),
    (
        "plot-training-curve-smooth",
        call(tl.plot_training_curve, [1.0, 0.5], smooth=0),
        V,
        r"smooth must be a positive int.*0",
    ),
    ("get-device-unknown", call(tl.get_device, "gpu0"), V, r"prefer must be a device name.*'gpu0'"),
    (
        "kvcache-update-type",
        method(tl.KVCache, "update", "k", "v"),
        TY,
        r"key must be a tensor.*str",
    ),
    (
        "kvcache-update-rank",
        method(tl.KVCache, "update", x(B, 1, 4), x(B, 1, 4)),
        V,
        r"key must have shape \(B, H_kv, T_new, d_head\).*\(2, 1, 4\)",
    ),
    (
        "bucket-lengths-str",
        call(tl.bucket_batches, "abc", 2),
        TY,
        r"lengths must be a sequence of ints.*str",
    ),
    (
        "hfbpe-tokenizer-type",
        call(tl.HFBPETokenizer, "tok"),
        TY,
        r"tokenizer must be a tokenizers\.Tokenizer.*str",
    ),
    (
        "hfbpe-from-bpe-type",
        call(tl.HFBPETokenizer.from_bpe, "bpe"),
        TY,
        r"bpe must be a BPETokenizer.*str",
    ),
    (
        "gpt-from-hf-module",
        call(GPT.from_huggingface, nn.Linear(2, 2)),
        V,
        r"model_or_path must be a Hugging Face GPT-2 or Llama model.*'Linear'",
    ),
    (
        "gpt-from-hf-missing-dir",
        call(GPT.from_huggingface, "/nonexistent/gpt"),
        FileNotFoundError,
        r"model_or_path must be a directory .* '/nonexistent/gpt' has no config\.json",
    ),
    (
        "gpt-from-pretrained-missing",
        call(GPT.from_pretrained, "/nonexistent/gpt"),
        FileNotFoundError,
        r"no saved model at /nonexistent/gpt: config\.json is missing",
    ),
    (
        "bert-from-hf-module",
        call(BERT.from_huggingface, nn.Linear(2, 2)),
        TY,
        r"model_or_path must be a transformers BERT model or a directory.*Linear",
    ),
    (
        "bert-from-hf-missing-dir",
        call(BERT.from_huggingface, "/nonexistent/bert"),
        FileNotFoundError,
        r"no Hugging Face checkpoint at /nonexistent/bert: config\.json is missing",
    ),
    (
        "load-gguf-missing",
        call(tl.load_gguf, "/nonexistent/model.gguf"),
        FileNotFoundError,
        r"path must be a GGUF file.*'/nonexistent/model\.gguf' does not exist",
    ),
    ("gguf-tokenizer-model", call(tl.GGUFTokenizer, {}), V, r"tokenizer\.ggml\.model 'gpt2'.*None"),
    (
        "genre-min-length",
        call(tl.genre_passages, length=10, min_length=20),
        V,
        r"min_length must be at most length=10.*20",
    ),
    (
        "split-test-plays",
        call(tl.split_by_play, [], test_plays=["Nope"]),
        V,
        r"test_plays contains 'Nope', which is not a play of the corpus",
    ),
    ("set-seed-str", call(tl.set_seed, "0"), TY, r"seed must be an int.*str"),
    ("set-seed-float", call(tl.set_seed, 1.5), TY, r"seed must be an int.*float"),
    (
        "set-seed-deterministic",
        call(tl.set_seed, 0, deterministic="yes"),
        TY,
        r"deterministic must be a bool.*str",
    ),
    # ------------------------------------------------------- training loop and checkpoints
    ("train-steps-zero", train_call(steps=0), V, r"steps must be a positive int.*0"),
    ("train-steps-float", train_call(steps=2.5), V, r"steps must be a positive int.*2\.5"),
    (
        "train-accumulation-zero",
        train_call(accumulation_steps=0),
        V,
        r"accumulation_steps must be a positive int.*0",
    ),
    ("train-amp", train_call(amp="fp8"), V, r"amp must be a bool, 'bfloat16' or 'float16'.*'fp8'"),
    ("train-log-every-zero", train_call(log_every=0), V, r"log_every must be a positive int.*0"),
    (
        "train-eval-every-without-fn",
        train_call(eval_every=5),
        V,
        r"eval_every is given but eval_fn is None",
    ),
    (
        "train-checkpoint-every-without-path",
        train_call(checkpoint_every=5),
        V,
        r"checkpoint_every is given but checkpoint_path is None",
    ),
    (
        "train-loss-not-scalar",
        train_call(loss_fn=lambda m, b: m(b[0])),
        V,
        r"loss_fn must return a scalar.*\[3, 2\]",
    ),
    ("train-model-str", train_call(model="m"), TY, r"model must be a torch.nn.Module.*str"),
    (
        "train-optimizer-str",
        train_call(optimizer="adam"),
        TY,
        r"optimizer must be a .*Optimizer.*str",
    ),
    ("train-get-batch-list", train_call(get_batch=[1, 2]), TY, r"get_batch must be callable.*list"),
    ("train-loss-fn-none", train_call(loss_fn=None), TY, r"loss_fn must be callable.*NoneType"),
    (
        "train-scheduler-str",
        train_call(scheduler="cos"),
        TY,
        r"scheduler must be a .*scheduler.*str",
    ),
    (
        "train-clip-negative",
        train_call(clip_grad_norm=-1.0),
        V,
        r"clip_grad_norm must be a positive.*-1",
    ),
    (
        "train-loss-float",
        train_call(loss_fn=lambda m, b: 0.5),
        TY,
        r"loss_fn must return a scalar tensor.*float",
    ),
    (
        "save-checkpoint-model-str",
        checkpoint_call("save", model="m"),
        TY,
        r"model must be a .*Module.*str",
    ),
    (
        "save-checkpoint-optimizer-str",
        checkpoint_call("save", optimizer="x"),
        TY,
        r"optimizer must be a .*Optimizer or None.*str",
    ),
    (
        "load-checkpoint-model-str",
        checkpoint_call("load", model="m"),
        TY,
        r"model must be a .*Module.*str",
    ),
    (
        "from-pretrained-corrupt-config",
        lambda: _from_pretrained_with_config(b"{not json"),
        V,
        r"config\.json.*(JSON|json)",
    ),
    (
        "checkpoint-exists-int",
        call(tl.checkpoint_exists, 3),
        TY,
        r"path must be a str or os.PathLike.*int",
    ),
    (
        "set-seed-too-large",
        call(tl.set_seed, 2**70),
        V,
        r"seed must be in \[0, 2\*\*64\).*1180591620717411303424",
    ),
    ("set-seed-negative", call(tl.set_seed, -1), V, r"seed must be in \[0, 2\*\*64\).*-1"),
    ("save-checkpoint-step", checkpoint_call("save", step=-1), V, r"step must be an int >= 0.*-1"),
    (
        "save-checkpoint-config",
        checkpoint_call("save", config={"f": object()}),
        TY,
        r"config and extra must be JSON-serialisable.*object",
    ),
    (
        "load-checkpoint-missing",
        checkpoint_call("load", path="/nonexistent/ckpt"),
        FileNotFoundError,
        r"no checkpoint at /nonexistent/ckpt",
    ),
    (
        "load-checkpoint-wrong-model",
        checkpoint_call("load", model=nn.Linear(3, 3)),
        V,
        r"does not fit Linear: .*of another shape \(given vs model: bias \(2,\) vs \(3,\)",
    ),
    (
        "all-reduce-mean-list",
        call(tl.all_reduce_mean, [1.0]),
        TY,
        r"tensor must be a torch\.Tensor.*list",
    ),
    (
        "all-reduce-mean-int",
        call(tl.all_reduce_mean, torch.tensor([1])),
        TY,
        r"tensor must have a floating-point dtype.*int64",
    ),
    (
        "setup-distributed-backend",
        call(tl.setup_distributed, backend="mpi2"),
        V,
        r"backend must be one of.*'mpi2'",
    ),
    # Chapter 8: the Vision Transformer, question answering and the generated data sets.
    (
        "vit-images-rank-3",
        method(vit, "", x(1, 8, 8)),
        V,
        r"images must have shape \(B, C, H, W\).*3 dimensions",
    ),
    (
        "vit-images-int",
        method(vit, "", x(B, 1, 8, 8, dtype=torch.int64)),
        TY,
        r"images must be a floating-point.*int64",
    ),
    ("vit-images-channels", method(vit, "", x(B, 3, 8, 8)), V, r"num_channels=1.*but have 3"),
    ("vit-images-size", method(vit, "", x(B, 1, 12, 12)), V, r"images must be 8x8.*12x12"),
    ("vit-images-list", method(vit, "", [[0.0]]), TY, r"images must be a tensor.*list"),
    (
        "vit-images-device",
        method(lambda: on_meta(vit()), "", x(B, 1, 8, 8)),
        V,
        r"images is on device cpu.*meta",
    ),
    ("vit-config-type", call(tl.ViT, {"d_model": 8}), TY, r"config must be a ViTConfig.*dict"),
    (
        "vit-config-labels-0",
        call(vit_config, num_labels=0),
        V,
        r"num_labels must be a positive int.*0",
    ),
    (
        "vit-config-d-model-float",
        call(vit_config, d_model=8.0),
        V,
        r"d_model must be a positive int.*8\.0",
    ),
    (
        "vit-config-patch-divides",
        call(vit_config, patch_size=3),
        V,
        r"image_size=8 must be a multiple of patch_size=3",
    ),
    (
        "vit-config-heads-divide",
        call(vit_config, num_heads=3),
        V,
        r"num_heads=3 must divide d_model=8",
    ),
    (
        "vit-config-dropout",
        call(vit_config, dropout=1.0),
        V,
        r"dropout must be a float in \[0, 1\).*1\.0",
    ),
    (
        "vit-config-norm-eps",
        call(vit_config, norm_eps=0.0),
        V,
        r"norm_eps must be a positive float.*0\.0",
    ),
    (
        "patchify-patch-0",
        call(tl.patchify, x(B, 1, 8, 8), 0),
        V,
        r"patch_size must be a positive int.*0",
    ),
    (
        "patchify-not-divisible",
        call(tl.patchify, x(B, 1, 8, 6), 4),
        V,
        r"multiples of patch_size=4.*8x6",
    ),
    ("patchify-str", call(tl.patchify, "img", 2), TY, r"images must be a tensor.*str"),
    (
        "patch-embedding-channels-0",
        call(tl.PatchEmbedding, 4, 0, D),
        V,
        r"num_channels must be a positive int.*0",
    ),
    (
        "qa-config-type",
        call(tl.BERTForQuestionAnswering, {"vocab_size": 10}),
        TY,
        r"config must be a BERTConfig.*dict",
    ),
    (
        "qa-from-encoder-str",
        call(tl.BERTForQuestionAnswering.from_encoder, "bert"),
        TY,
        r"encoder must be a BERT.*str",
    ),
    (
        "qa-ids-float",
        method(qa_model, "", x(B, T)),
        TY,
        r"input_ids must hold integer ids.*float32",
    ),
    (
        "qa-ids-too-long",
        method(qa_model, "", ids(B, 9)),
        V,
        r"input_ids has length T=9.*max_len is 8",
    ),
    ("qa-ids-out-of-range", method(qa_model, "", ids(B, T) + 10), V, r"input_ids must lie in"),
    (
        "qa-ids-device",
        method(lambda: on_meta(qa_model()), "", ids(B, T)),
        V,
        r"input_ids is on device cpu.*meta",
    ),
    (
        "qa-mask-shape",
        qa_call(attention_mask=torch.ones(B, T - 1, dtype=torch.bool)),
        V,
        r"attention_mask must have the shape of input_ids.*\(2, 4\)",
    ),
    (
        "qa-only-start",
        qa_call(start_positions=torch.zeros(B).long()),
        V,
        r"both start_positions and end_positions",
    ),
    (
        "qa-start-float",
        qa_call(start_positions=x(B), end_positions=torch.zeros(B).long()),
        TY,
        r"start_positions must hold integer.*float32",
    ),
    (
        "qa-end-shape",
        qa_call(start_positions=torch.zeros(B).long(), end_positions=torch.zeros(B, 1).long()),
        V,
        r"end_positions must have shape \(B,\) = \(2,\).*\(2, 1\)",
    ),
    (
        "qa-start-range",
        qa_call(start_positions=torch.tensor([0, T]), end_positions=torch.zeros(B).long()),
        V,
        r"start_positions must lie in \[0, T=5\).*5",
    ),
    (
        "qa-end-negative",
        qa_call(start_positions=torch.zeros(B).long(), end_positions=torch.tensor([-1, 0])),
        V,
        r"end_positions must lie in \[0, T=5\).*-1",
    ),
    (
        "qa-end-device",
        qa_call(
            start_positions=torch.zeros(B).long(), end_positions=torch.zeros(B, device=META).long()
        ),
        V,
        r"end_positions is on device meta.*input_ids is on cpu",
    ),
    (
        "best-spans-rank",
        spans_call(start_logits=x(T)),
        V,
        r"start_logits must have shape \(B, T\).*\(5,\)",
    ),
    (
        "best-spans-empty",
        spans_call(
            start_logits=x(B, 0),
            end_logits=x(B, 0),
            context_mask=torch.ones(B, 0, dtype=torch.bool),
        ),
        V,
        r"start_logits must have at least one position.*T is 0",
    ),
    (
        "best-spans-end-shape",
        spans_call(end_logits=x(B, T - 1)),
        V,
        r"end_logits must have the shape of start_logits \(2, 5\).*\(2, 4\)",
    ),
    (
        "best-spans-mask-int",
        spans_call(context_mask=torch.ones(B, T, dtype=torch.int64)),
        TY,
        r"context_mask must be a bool tensor.*int64",
    ),
    (
        "best-spans-mask-float",
        spans_call(context_mask=x(B, T)),
        TY,
        r"context_mask must be a bool tensor.*float32",
    ),
    (
        "best-spans-logits-int",
        spans_call(end_logits=x(B, T, dtype=torch.int64)),
        TY,
        r"end_logits must be a floating-point tensor.*int64",
    ),
    (
        "best-spans-mask-device",
        spans_call(context_mask=torch.ones(B, T, dtype=torch.bool, device=META)),
        V,
        r"context_mask is on device meta.*start_logits is on cpu",
    ),
    (
        "best-spans-max-len",
        spans_call(max_answer_len=0),
        V,
        r"max_answer_len must be a positive int.*0",
    ),
    (
        "best-spans-threshold-str",
        spans_call(null_threshold="0"),
        TY,
        r"null_threshold must be a number.*str",
    ),
    (
        "encode-qa-lengths",
        call(tl.encode_qa, None, ["q"], ["c", "d"]),
        V,
        r"questions and contexts must be non-empty and of equal length.*1 and 2",
    ),
    (
        "encode-qa-one-string",
        call(tl.encode_qa, None, "q", ["c"]),
        TY,
        r"questions must be a list of strings.*str",
    ),
    (
        "encode-qa-answers",
        call(tl.encode_qa, None, ["q"], ["c"], [0, 1], ["c"]),
        V,
        r"answer_starts and answer_texts must have one entry per question \(1\).*2 and 1",
    ),
    (
        "answer-questions-model",
        call(tl.answer_questions, "model", None, ["q"], ["c"]),
        TY,
        r"model must be a BERTForQuestionAnswering.*str",
    ),
    (
        "answer-questions-batch",
        lambda: tl.answer_questions(qa_model(), None, ["q"], ["c"], batch_size=0),
        V,
        r"batch_size must be a positive int.*0",
    ),
    (
        "squad-scores-lengths",
        call(tl.squad_scores, ["a"], ["a", "b"]),
        V,
        r"predictions and truths must be non-empty and of equal length.*1 and 2",
    ),
    (
        "squad-scores-one-string",
        call(tl.squad_scores, "a", ["a"]),
        TY,
        r"predictions must be a list of strings",
    ),
    ("qa-f1-none", call(tl.qa_f1, None, "a"), TY, r"text must be a str.*NoneType"),
    ("event-reports-negative", call(tl.event_reports, -1), V, r"n must be >= 0.*-1"),
    ("event-reports-float", call(tl.event_reports, 2.0), TY, r"n must be an int.*float"),
    (
        "sentiment-reviews-fraction",
        call(tl.sentiment_reviews, 3, plain_fraction=2),
        V,
        r"plain_fraction must lie in \[0, 1\].*2",
    ),
    (
        "sentiment-reviews-seed",
        call(tl.sentiment_reviews, 3, seed="0"),
        TY,
        r"seed must be an int.*str",
    ),
    (
        "biographies-count-str",
        call(tl.make_biographies, "3"),
        V,
        r"num_texts must be an int >= 0.*'3'",
    ),
    (
        "biographies-people",
        call(tl.make_biographies, 1, min_people=3, max_people=2),
        V,
        r"max_people",
    ),
    (
        "biographies-fact-prob",
        call(tl.make_biographies, 1, fact_prob=1.5),
        V,
        r"fact_prob must be a float in \[0, 1\].*1\.5",
    ),
]


def _filled_cache() -> tl.KVCache:
    cache = tl.KVCache()
    cache.update(x(B, H, 1, 4), x(B, H, 1, 4))
    return cache


def test_table_size() -> None:
    """The count in the module docstring is the table's, and every id is unique."""
    ids_ = [case[0] for case in CASES]
    assert len(ids_) == len(set(ids_)), "case ids must be unique"
    assert f"the table holds {len(CASES)} cases" in " ".join(__doc__.split())


@pytest.mark.parametrize(("call", "exception", "match"), [
    pytest.param(c, e, m, id=i) for i, c, e, m in CASES
])  # fmt: skip
def test_bad_input(call: Callable[[], Any], exception: type[Exception], match: str) -> None:
    """The bad call raises ``exception`` (never a bare RuntimeError/IndexError from deep
    inside) and the message names the argument, the expectation and what was given."""
    with pytest.raises(exception, match=match) as info:
        call()
    # pytest.raises(ValueError) would also accept subclasses that say nothing useful; the
    # library raises the plain types.
    assert type(info.value) in (ValueError, TypeError, FileNotFoundError)
    # Short enough to read: a message summarises (a count, the first few), never lists all.
    assert len(str(info.value)) <= 400, f"{len(str(info.value))} characters: {info.value}"
