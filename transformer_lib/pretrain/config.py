"""The run's settings: every key with its default, read from JSON and checked."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from pathlib import Path
from typing import Any

from ..models.gpt.config import GPTConfig
from ..utils._checks import is_int, is_number

__all__ = ["DEFAULTS", "load_config"]

#: Every config key with its default. A config file gives any subset of them.
DEFAULTS: dict[str, Any] = {
    "model": {  # GPTConfig fields; vocab_size comes from the tokenizer
        "d_model": 128,
        "num_heads": 4,
        "num_layers": 4,
        "dropout": 0.0,
    },
    "plays": None,  # a play name or a list of them (see shakespeare_plays()); None: all 12
    "text_file": None,  # a UTF-8 text file to train on instead of the plays
    "tokenizer": "char",  # "char", or "bpe": a byte-level BPE trained on the text
    "vocab_size": 512,  # the BPE's vocabulary (256 bytes, 3 special tokens, the merges)
    "val_fraction": 0.1,  # the last 10% of the text is held out for validation
    "batch_size": 32,  # sequences per process per micro-batch
    "block_size": 128,  # tokens per training sequence; model.max_len defaults to it
    "accumulation_steps": 1,
    "steps": 2000,
    "lr": 1e-3,
    "min_lr_factor": 0.1,  # the cosine schedule ends at lr * min_lr_factor
    "warmup_steps": 100,
    "weight_decay": 0.1,
    "betas": [0.9, 0.99],
    "grad_clip": 1.0,  # None: no clipping
    "seed": 0,
    "out_dir": "out/shakespeare_char",
    "amp": False,  # True, "bfloat16" or "float16": mixed precision (see tl.train)
    "compile": False,  # torch.compile the model for the training steps
    "fused": None,  # fused AdamW: None picks it where PyTorch supports it
    "eval_interval": 250,
    "eval_batches": 20,  # validation batches, shared out among the processes
    "checkpoint_interval": None,  # None: at every evaluation
    "device": None,  # None: the best available (see get_device)
    "progress": True,
    "resume": True,
}


def _fail(key: str, expected: str, value: Any) -> None:
    raise ValueError(f"config key {key!r} must be {expected}, but is {value!r}")


def load_config(source: str | os.PathLike | dict[str, Any] | None = None) -> dict[str, Any]:
    """The full, checked config: ``DEFAULTS`` updated with ``source`` (a JSON file or dict).

    Raises ``ValueError`` naming the key for an unknown key (a typo would otherwise be
    ignored silently), a value of the wrong type or range, or a bad JSON file.
    """
    if source is None:
        given: Any = {}
    elif isinstance(source, dict):
        given = source
    else:
        path = Path(source)
        try:
            given = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {path} is not valid JSON: {e}") from None
    if not isinstance(given, dict):
        raise ValueError(f"a config must be a JSON object, but got {type(given).__name__}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        # The closest known keys (a typo's correction), not all of them: errors stay short.
        close = sorted({m for k in unknown for m in difflib.get_close_matches(k, DEFAULTS, 2)})
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(
            f"unknown config keys {unknown}{hint} (python -m transformer_lib.pretrain "
            "--print-defaults lists them all)"
        )
    config = {**DEFAULTS, **given}
    config["model"] = {**DEFAULTS["model"], **(given.get("model") or {})}
    _check(config)
    return config


def _check(c: dict[str, Any]) -> None:
    _check_run(c)
    _check_data(c)
    _check_model(c)


def _check_run(c: dict[str, Any]) -> None:
    for key in ("batch_size", "block_size", "accumulation_steps", "steps"):
        if not is_int(c[key]) or c[key] < 1:
            _fail(key, "an int >= 1", c[key])
    for key in ("eval_interval", "eval_batches"):
        if not is_int(c[key]) or c[key] < 1:
            _fail(key, "an int >= 1", c[key])
    if c["checkpoint_interval"] is not None and (
        not is_int(c["checkpoint_interval"]) or c["checkpoint_interval"] < 1
    ):
        _fail("checkpoint_interval", "an int >= 1 or null", c["checkpoint_interval"])
    if not is_int(c["warmup_steps"]) or not 0 <= c["warmup_steps"] <= c["steps"]:
        _fail("warmup_steps", f"an int in [0, steps={c['steps']}]", c["warmup_steps"])
    if not is_int(c["seed"]):
        _fail("seed", "an int", c["seed"])
    if not is_number(c["lr"]) or not c["lr"] > 0:
        _fail("lr", "a number > 0", c["lr"])
    if not is_number(c["min_lr_factor"]) or not 0 <= c["min_lr_factor"] <= 1:
        _fail("min_lr_factor", "a number in [0, 1]", c["min_lr_factor"])
    if not is_number(c["weight_decay"]) or c["weight_decay"] < 0:
        _fail("weight_decay", "a number >= 0", c["weight_decay"])
    betas = c["betas"]
    if (
        not isinstance(betas, (list, tuple))
        or len(betas) != 2
        or not all(is_number(b) and 0 <= b < 1 for b in betas)
    ):
        _fail("betas", "a list of two numbers in [0, 1)", betas)
    if c["grad_clip"] is not None and (not is_number(c["grad_clip"]) or c["grad_clip"] <= 0):
        _fail("grad_clip", "a number > 0 or null", c["grad_clip"])
    if not is_number(c["val_fraction"]) or not 0 < c["val_fraction"] < 1:
        _fail("val_fraction", "a number in (0, 1)", c["val_fraction"])
    if c["amp"] not in (False, True, "bfloat16", "float16"):
        _fail("amp", 'false, true, "bfloat16" or "float16"', c["amp"])
    for key in ("compile", "progress", "resume"):
        if not isinstance(c[key], bool):
            _fail(key, "true or false", c[key])
    if c["fused"] is not None and not isinstance(c["fused"], bool):
        _fail("fused", "true, false or null", c["fused"])
    if not isinstance(c["out_dir"], str) or not c["out_dir"]:
        _fail("out_dir", "a non-empty path (a string)", c["out_dir"])
    if c["device"] is not None and not isinstance(c["device"], str):
        _fail("device", 'a device name such as "cpu" or "cuda", or null', c["device"])


def _check_data(c: dict[str, Any]) -> None:
    plays = c["plays"]
    if plays is not None and not isinstance(plays, str):
        if not isinstance(plays, list) or not plays or not all(isinstance(p, str) for p in plays):
            _fail("plays", "a play name, a non-empty list of play names, or null", plays)
    if c["text_file"] is not None:
        if not isinstance(c["text_file"], str) or not c["text_file"]:
            _fail("text_file", "a path to a UTF-8 text file (a string) or null", c["text_file"])
        if plays is not None:
            raise ValueError("config keys 'text_file' and 'plays' exclude each other: set one")
    if c["tokenizer"] not in ("char", "bpe"):
        _fail("tokenizer", '"char" or "bpe"', c["tokenizer"])
    if not is_int(c["vocab_size"]) or c["vocab_size"] < 259:
        _fail("vocab_size", "an int >= 259 (256 bytes and 3 special tokens)", c["vocab_size"])


def _check_model(c: dict[str, Any]) -> None:
    model = c["model"]
    if not isinstance(model, dict):
        _fail("model", "an object of GPTConfig fields", model)
    fields = {f.name for f in dataclasses.fields(GPTConfig)} - {"vocab_size"}
    unknown = sorted(set(model) - fields)
    if "vocab_size" in model:
        raise ValueError(
            "config key 'model' must not set vocab_size: the tokenizer fixes it (set the "
            "BPE's with the config key 'vocab_size')"
        )
    if unknown:
        raise ValueError(
            f"config key 'model' has unknown fields {unknown}; GPTConfig has {sorted(fields)}"
        )
    max_len = model.get("max_len", c["block_size"])
    if is_int(max_len) and max_len < c["block_size"]:
        raise ValueError(
            f"config key 'model' has max_len={max_len}, shorter than block_size="
            f"{c['block_size']}: the model could not read a whole training sequence"
        )
    try:
        GPTConfig(vocab_size=1, **{"max_len": c["block_size"], **model})
    except (ValueError, TypeError) as e:
        raise ValueError(f"config key 'model' is invalid: {e}") from None
