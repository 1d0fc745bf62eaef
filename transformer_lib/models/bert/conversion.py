"""Hugging Face BERT checkpoints -> this library's BERT: key names, config, reading weights.

Used by the ``from_huggingface`` methods of :class:`~transformer_lib.BERT`, its heads and
:class:`~transformer_lib.BERTForQuestionAnswering`. Reads ``model.safetensors`` directly, or
goes through ``transformers`` when it is installed and asked for.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...utils._state_dict import load_weights
from .config import BERTConfig

__all__ = [
    "rename_keys",
    "head_state",
    "load_state",
    "config_from_huggingface",
    "read_huggingface",
]


# Hugging Face key (without any "bert." prefix) -> ours. The encoder's keys are those of
# :class:`BERT`; the heads' start with "head." and are resolved by head_state.
_RENAMES = [
    (r"embeddings\.(word|position|token_type)_embeddings\.", r"embeddings.\1_embeddings."),
    (r"embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.", r"layers.\1.self_attn.q_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.", r"layers.\1.self_attn.k_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.", r"layers.\1.self_attn.v_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.self_attn.out_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attn_residual.norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ff.linear1."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ff.linear2."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.ff_residual.norm."),
    (r"pooler\.dense\.", "pooler."),
    (r"cls\.predictions\.transform\.dense\.", "head.dense."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "head.norm."),
    (r"cls\.predictions\.bias$", "head.bias"),
    (r"classifier\.", "head.classifier."),
]
# Keys with no counterpart: buffers we recompute, the decoder tied to the word embeddings
# (checked in rename_keys) and the next-sentence-prediction head, which the book does not use.
_IGNORED = re.compile(
    r"(embeddings\.position_ids|embeddings\.token_type_ids|cls\.predictions\.decoder\.\w+"
    r"|cls\.seq_relationship\.\w+)$"
)


def rename_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face BERT state dict -> ours (encoder keys bare, head keys under ``head.``)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        bare = key.removeprefix("bert.")
        if _IGNORED.fullmatch(bare):
            continue
        for pattern, replacement in _RENAMES:
            new, n = re.subn("^" + pattern, replacement, bare)
            if n:
                out[new] = value
                break
        else:
            raise ValueError(f"unexpected key {key!r} in the Hugging Face BERT checkpoint")
    decoder = state.get("cls.predictions.decoder.weight")
    word = out.get("embeddings.word_embeddings.weight")
    if decoder is not None and word is not None and not torch.equal(decoder, word):
        raise ValueError(
            "the checkpoint's masked-LM decoder is not tied to the word embeddings; "
            "BERTForMaskedLM supports tied weights only"
        )
    return out


def head_state(renamed: dict[str, Tensor]) -> dict[str, Tensor]:
    """Renamed keys -> the state dict of a head model: the encoder under ``bert.``."""
    return {
        k.removeprefix("head.") if k.startswith("head.") else "bert." + k: v
        for k, v in renamed.items()
    }


def load_state(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load renamed Hugging Face weights into ``model``; a mismatch is summarised."""
    load_weights(model, state, "the Hugging Face BERT weights")


def config_from_huggingface(hf: dict[str, Any]) -> BERTConfig:
    """A Hugging Face ``BertConfig`` (as a dict) -> :class:`BERTConfig`."""
    if hf.get("model_type") != "bert":
        raise ValueError(
            f"expected a BERT config (model_type 'bert'), got {hf.get('model_type')!r}"
        )
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"hidden_act must be 'gelu' (exact GELU), but the checkpoint uses {hf['hidden_act']!r}"
        )
    if hf.get("position_embedding_type") not in (None, "absolute"):
        raise ValueError(
            "only absolute position embeddings are supported, but the checkpoint uses "
            f"{hf['position_embedding_type']!r}"
        )
    labels = hf.get("id2label")
    num_labels = len(labels) if labels else hf.get("num_labels") or 2
    pad_id = hf.get("pad_token_id")
    return BERTConfig(
        vocab_size=hf["vocab_size"],
        max_len=hf["max_position_embeddings"],
        d_model=hf["hidden_size"],
        num_heads=hf["num_attention_heads"],
        num_layers=hf["num_hidden_layers"],
        d_ff=hf["intermediate_size"],
        dropout=float(hf.get("hidden_dropout_prob", 0.1)),
        type_vocab_size=hf.get("type_vocab_size", 2),
        pad_id=0 if pad_id is None else pad_id,
        norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
        num_labels=num_labels,
    )


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise ImportError(
            "loading this checkpoint needs the Hugging Face transformers package "
            "(pip install transformers), or a directory with model.safetensors and "
            "use_transformers=False"
        ) from e
    return transformers


def read_huggingface(
    source: Any, use_transformers: bool | None, auto_class: str
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(config dict, state dict)`` from a ``transformers`` model or a local directory."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no Hugging Face checkpoint at {path}: config.json is missing")
        weights = path / "model.safetensors"
        if use_transformers is None:
            use_transformers = not weights.is_file()
        if not use_transformers:
            if not weights.is_file():
                raise FileNotFoundError(
                    f"{weights} is missing; for other weight formats pass use_transformers=True"
                )
            from safetensors.torch import load_file

            hf_config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            return hf_config, load_file(weights)
        transformers = _import_transformers()
        source = getattr(transformers, auto_class).from_pretrained(path, local_files_only=True)
    config = getattr(source, "config", None)
    if not isinstance(source, nn.Module) or not hasattr(config, "to_dict"):
        raise TypeError(
            "model_or_path must be a transformers BERT model or a directory, "
            f"but got {type(source).__name__}"
        )
    return config.to_dict(), source.state_dict()
