"""Hugging Face GPT-2 and Llama models -> this library's GPT: config translation and weights.

:meth:`GPT.from_huggingface <transformer_lib.GPT.from_huggingface>` calls
:func:`from_huggingface`; the GGUF loader shares :func:`copy_state`.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn

from ...utils._state_dict import load_weights, rename
from .config import GPTConfig

__all__ = ["from_huggingface", "copy_state"]


def from_huggingface(cls: type[nn.Module], model_or_path: Any) -> nn.Module:
    """A ``cls`` (a :class:`~transformer_lib.GPT`) with the weights of a Hugging Face GPT-2 or
    Llama model, or of a local directory that ``save_pretrained`` wrote; see
    :meth:`GPT.from_huggingface <transformer_lib.GPT.from_huggingface>`."""
    hf = model_or_path
    if isinstance(hf, (str, os.PathLike)):
        try:
            import transformers
        except ImportError as e:
            raise ImportError(
                "GPT.from_huggingface(path) needs the transformers package: "
                "pip install transformers"
            ) from e
        if not os.path.isfile(os.path.join(os.fspath(hf), "config.json")):
            # Otherwise transformers reads the path as a Hub name and fails on that.
            raise FileNotFoundError(
                f"model_or_path must be a directory that save_pretrained wrote, but "
                f"{os.fspath(hf)!r} has no config.json"
            )
        hf = transformers.AutoModelForCausalLM.from_pretrained(
            os.fspath(model_or_path), local_files_only=True
        )
    hf_config = getattr(hf, "config", None)
    model_type = getattr(hf_config, "model_type", None)
    if not isinstance(hf, nn.Module) or model_type not in ("gpt2", "llama"):
        what = model_type or type(hf).__name__
        raise ValueError(
            f"model_or_path must be a Hugging Face GPT-2 or Llama model (model_type 'gpt2' "
            f"or 'llama'), but got {what!r}"
        )
    if model_type == "llama":
        config = _config_from_llama(hf_config)
        prefix, embedding, load = "model.", "embed_tokens.weight", _load_llama_weights
    else:
        config = _config_from_gpt2(hf_config)
        prefix, embedding, load = "transformer.", "wte.weight", _load_gpt2_weights
    state = {k.removeprefix(prefix): v for k, v in hf.state_dict().items()}
    if "lm_head.weight" not in state:  # a base model without a head: tie it to the embedding
        config.tie_embeddings = True
    model = cls(config)
    load(model, state)
    weight = state[embedding]
    return model.to(device=weight.device, dtype=weight.dtype).eval()


def _config_from_gpt2(hf: Any) -> GPTConfig:
    """Translate a ``transformers.GPT2Config``; refuse options that would change the maths."""
    activations = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
    activations["relu"] = "relu"
    unsupported = []
    if hf.activation_function not in activations:
        unsupported.append(f"activation_function={hf.activation_function!r}")
    if not getattr(hf, "scale_attn_weights", True):
        unsupported.append("scale_attn_weights=False")
    if getattr(hf, "scale_attn_by_inverse_layer_idx", False):
        unsupported.append("scale_attn_by_inverse_layer_idx=True")
    if getattr(hf, "add_cross_attention", False):
        unsupported.append("add_cross_attention=True")
    if unsupported:
        raise ValueError(f"this GPT-2 config uses options GPT does not implement: {unsupported}")
    return GPTConfig(
        vocab_size=hf.vocab_size,
        max_len=hf.n_positions,
        d_model=hf.n_embd,
        num_heads=hf.n_head,
        num_layers=hf.n_layer,
        d_ff=hf.n_inner if hf.n_inner is not None else 4 * hf.n_embd,
        dropout=hf.resid_pdrop,  # GPT-2 has three dropout rates, all 0.1; we have one
        positional="learned",
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", True)),
        bias=True,
        norm_eps=hf.layer_norm_epsilon,
        activation=activations[hf.activation_function],
    )


def _load_gpt2_weights(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load GPT-2's tensors (names without the ``transformer.`` prefix) into ``model``.

    GPT-2 stores its projections as ``Conv1D``: ``y = x @ W + b`` with ``W`` of shape
    ``(in, out)``, the transpose of ``nn.Linear``'s ``(out, in)``. Its ``c_attn`` projects to
    queries, keys and values at once, so its output columns split into three ``d_model`` parts.
    """
    mapping = {
        "tok_embed.weight": "wte.weight",
        "pos_embed.embedding.weight": "wpe.weight",
        "ln_f.weight": "ln_f.weight",
        "ln_f.bias": "ln_f.bias",
    }
    if not model.config.tie_embeddings:
        mapping["lm_head.weight"] = "lm_head.weight"
    conv1d = set()  # GPT-2 names whose weight is stored transposed
    for i in range(len(model.blocks)):
        ours, theirs = f"blocks.{i}.", f"h.{i}."
        for a, b in (("ln_1", "ln_1"), ("ln_2", "ln_2"), ("attn.out_proj", "attn.c_proj"),
                     ("mlp.linear1", "mlp.c_fc"), ("mlp.linear2", "mlp.c_proj")):  # fmt: skip
            for suffix in (".weight", ".bias"):
                mapping[ours + a + suffix] = theirs + b + suffix
            if not a.startswith("ln"):
                conv1d.add(theirs + b + ".weight")
        mapping[ours + "attn.c_attn.weight"] = theirs + "attn.c_attn.weight"
        mapping[ours + "attn.c_attn.bias"] = theirs + "attn.c_attn.bias"
    # Buffers such as an old causal-mask "attn.bias" carry no weights; the output head is the
    # embedding when tied.
    ignore = ("attn.bias", "attn.masked_bias") + (
        ("lm_head.weight",) if model.config.tie_embeddings else ()
    )
    renamed = rename(state, mapping, "GPT-2", ignore=ignore)
    ours: dict[str, Tensor] = {}
    for name, value in renamed.items():
        module, _, kind = name.rpartition(".")  # e.g. "blocks.0.attn.c_attn", "weight"
        if module.endswith(".c_attn"):
            parts = (value.T if kind == "weight" else value).chunk(3, dim=0)  # q, k, v
            for proj, part in zip(("q_proj", "k_proj", "v_proj"), parts, strict=True):
                ours[f"{module.removesuffix('c_attn')}{proj}.{kind}"] = part
        else:
            ours[name] = value.T if mapping[name] in conv1d else value
    load_weights(model, ours, "the GPT-2 weights")


def _config_from_llama(hf: Any) -> GPTConfig:
    """Translate a ``transformers.LlamaConfig``; refuse options that would change the maths."""
    rope = dict(getattr(hf, "rope_parameters", None) or getattr(hf, "rope_scaling", None) or {})
    rope_base = rope.get("rope_theta", getattr(hf, "rope_theta", 10000.0))
    d_head = hf.hidden_size // hf.num_attention_heads
    attention_bias = bool(getattr(hf, "attention_bias", False))
    unsupported = []
    if hf.hidden_act != "silu":
        unsupported.append(f"hidden_act={hf.hidden_act!r}")
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        unsupported.append(f"rope scaling {rope!r}")
    if getattr(hf, "head_dim", None) not in (None, d_head):
        unsupported.append(f"head_dim={hf.head_dim} (not hidden_size / num_attention_heads)")
    if attention_bias != bool(getattr(hf, "mlp_bias", False)):
        unsupported.append("attention_bias != mlp_bias (GPT has one bias switch)")
    if unsupported:
        raise ValueError(f"this Llama config uses options GPT does not implement: {unsupported}")
    return GPTConfig(
        vocab_size=hf.vocab_size,
        max_len=hf.max_position_embeddings,
        d_model=hf.hidden_size,
        num_heads=hf.num_attention_heads,
        num_kv_heads=hf.num_key_value_heads,
        num_layers=hf.num_hidden_layers,
        d_ff=hf.intermediate_size,
        dropout=float(getattr(hf, "attention_dropout", 0.0)),
        positional="rope",
        rope_base=float(rope_base),
        rope_interleaved=False,  # Hugging Face stores Llama's q/k for the rotate-half pairing
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", False)),
        bias=attention_bias,
        norm="rmsnorm",
        norm_eps=hf.rms_norm_eps,
        activation="swiglu",
    )


# Our parameter names -> Hugging Face Llama's (without the "model." prefix), per block.
_LLAMA_BLOCK_NAMES = {
    "ln_1.weight": "input_layernorm.weight",
    "attn.q_proj": "self_attn.q_proj",
    "attn.k_proj": "self_attn.k_proj",
    "attn.v_proj": "self_attn.v_proj",
    "attn.out_proj": "self_attn.o_proj",
    "ln_2.weight": "post_attention_layernorm.weight",
    "mlp.gate_proj": "mlp.gate_proj",
    "mlp.up_proj": "mlp.up_proj",
    "mlp.down_proj": "mlp.down_proj",
}


@torch.no_grad()
def _load_llama_weights(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy a Llama's tensors (names without the ``model.`` prefix) into ``model``.

    Llama's parts map one to one onto ours (both use ``nn.Linear``'s ``(out, in)`` layout);
    only the names differ.
    """
    mapping = {"tok_embed.weight": "embed_tokens.weight", "ln_f.weight": "norm.weight"}
    if not model.config.tie_embeddings:
        mapping["lm_head.weight"] = "lm_head.weight"
    for i in range(len(model.blocks)):
        for ours, theirs in _LLAMA_BLOCK_NAMES.items():
            for suffix in ("",) if ours.endswith(".weight") else (".weight", ".bias"):
                mapping[f"blocks.{i}.{ours}{suffix}"] = f"layers.{i}.{theirs}{suffix}"
    copy_state(model, state, mapping, "Llama")


def copy_state(model: nn.Module, state: dict[str, Tensor], mapping: dict[str, str], what: str):
    """Load ``state[theirs]`` into ``model.<ours>`` for every pair in ``mapping`` that the
    model has; every tensor of ``state`` must be used (tied output heads and rotary buffers
    aside)."""
    keys = model.state_dict().keys()
    mapping = {ours: theirs for ours, theirs in mapping.items() if ours in keys}
    ignore = ("rotary_emb.inv_freq",)
    if model.config.tie_embeddings:
        ignore += ("lm_head.weight",)  # the same matrix as the embedding when tied
    load_weights(model, rename(state, mapping, what, ignore=ignore), f"the {what} weights")
