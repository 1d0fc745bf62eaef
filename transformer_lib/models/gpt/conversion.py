"""Hugging Face GPT-2 and Llama models -> this library's GPT: config translation and weights.

:meth:`GPT.from_huggingface <transformer_lib.GPT.from_huggingface>` calls
:func:`from_huggingface`; the GGUF loader shares :func:`copy_state`.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn

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


@torch.no_grad()
def _load_gpt2_weights(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy GPT-2's tensors (names without the ``transformer.`` prefix) into ``model``.

    GPT-2 stores its projections as ``Conv1D``: ``y = x @ W + b`` with ``W`` of shape
    ``(in, out)``, the transpose of ``nn.Linear``'s ``(out, in)``. Its ``c_attn`` projects to
    queries, keys and values at once, so its output columns split into three ``d_model`` parts.
    """
    used: set[str] = set()

    def take(name: str) -> Tensor:
        if name not in state:
            raise ValueError(f"the GPT-2 weights lack {name!r}")
        used.add(name)
        return state[name]

    def copy(param: Tensor, name: str, transpose: bool = False) -> None:
        value = take(name)
        value = value.T if transpose else value
        if value.shape != param.shape:
            raise ValueError(
                f"GPT-2 weight {name!r} has shape {tuple(value.shape)}, expected "
                f"{tuple(param.shape)}"
            )
        param.copy_(value)

    assert model.pos_embed is not None
    copy(model.tok_embed.weight, "wte.weight")
    copy(model.pos_embed.embedding.weight, "wpe.weight")
    for i, block in enumerate(model.blocks):
        p = f"h.{i}."
        for ours, theirs in ((block.ln_1, "ln_1"), (block.ln_2, "ln_2")):
            copy(ours.weight, p + theirs + ".weight")
            copy(ours.bias, p + theirs + ".bias")
        attn = block.attn
        q_w, k_w, v_w = take(p + "attn.c_attn.weight").T.chunk(3, dim=0)  # each (d, d)
        q_b, k_b, v_b = take(p + "attn.c_attn.bias").chunk(3, dim=0)
        for proj, w, b in ((attn.q_proj, q_w, q_b), (attn.k_proj, k_w, k_b),
                           (attn.v_proj, v_w, v_b)):  # fmt: skip
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        copy(attn.out_proj.weight, p + "attn.c_proj.weight", transpose=True)
        copy(attn.out_proj.bias, p + "attn.c_proj.bias")
        copy(block.mlp.linear1.weight, p + "mlp.c_fc.weight", transpose=True)
        copy(block.mlp.linear1.bias, p + "mlp.c_fc.bias")
        copy(block.mlp.linear2.weight, p + "mlp.c_proj.weight", transpose=True)
        copy(block.mlp.linear2.bias, p + "mlp.c_proj.bias")
    copy(model.ln_f.weight, "ln_f.weight")
    copy(model.ln_f.bias, "ln_f.bias")
    if not model.config.tie_embeddings:
        copy(model.lm_head.weight, "lm_head.weight")
    else:
        used.add("lm_head.weight")  # the same tensor as wte when tied
    # Buffers such as an old causal-mask "attn.bias" carry no weights; anything else left
    # over would mean a part this loader does not understand.
    left = sorted(k for k in set(state) - used if not k.endswith(("attn.bias", "attn.masked_bias")))
    if left:
        raise ValueError(f"GPT-2 weights this loader does not use: {left}")


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
    """``model.<ours>.copy_(state[<theirs>])`` for every pair in ``mapping`` that ``model`` has;
    every tensor of ``state`` must be used (tied output heads and rotary buffers aside)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    used = set()
    for ours, theirs in mapping.items():
        if ours not in params:
            continue  # e.g. biases when bias=False
        if theirs not in state:
            raise ValueError(f"the {what} weights lack {theirs!r}")
        value = state[theirs]
        if value.shape != params[ours].shape:
            raise ValueError(
                f"{what} weight {theirs!r} has shape {tuple(value.shape)}, expected "
                f"{tuple(params[ours].shape)}"
            )
        params[ours].copy_(value)
        used.add(theirs)
    ignorable = ("rotary_emb.inv_freq",)
    if model.config.tie_embeddings:
        ignorable += ("lm_head.weight",)  # the same matrix as the embedding when tied
    left = sorted(k for k in set(state) - used if not k.endswith(ignorable))
    if left:
        raise ValueError(f"{what} weights this loader does not use: {left}")
