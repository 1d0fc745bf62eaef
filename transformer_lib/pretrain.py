"""Train a character-level GPT on the bundled Shakespeare, on one device or many (chapter 7).

One process::

    python -m transformer_lib.pretrain --config run.json

``N`` processes on this machine (``N`` GPUs, or ``N`` CPU processes), data-parallel::

    torchrun --standalone --nproc_per_node=N -m transformer_lib.pretrain --config run.json

The JSON config sets the model (the fields of :class:`~transformer_lib.GPTConfig` under
``"model"``, without ``vocab_size``, which the tokenizer fixes) and the run; every key is
optional, see :data:`DEFAULTS`. With several processes each one holds a full copy of the
model wrapped in ``DistributedDataParallel``, draws its own random batches (a generator
seeded from the seed, its rank and the step), and the gradients are averaged over all of
them before every step, so all copies stay identical. ``batch_size`` is per process: a step
sees ``batch_size * accumulation_steps * N`` sequences.

Rank 0 alone prints and writes to ``out_dir``:

- ``checkpoint/`` the latest checkpoint (written atomically, see ``save_checkpoint``); a
  run started again with the same ``out_dir`` resumes from it, on every rank;
- ``run_config.json`` the full config of the run, ``tokenizer.json`` the vocabulary;
- ``model/`` the final weights, for ``GPT.from_pretrained(out_dir / "model")``;
- ``metrics.json`` the training losses (the mean over the ranks), the validation losses.

(The module is not called ``train``: importing a submodule ``transformer_lib.train`` would
replace the function ``tl.train`` on the package with the module.)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data.tokenizers import CharTokenizer
from .datasets.shakespeare import load_shakespeare
from .models.gpt.model import GPT, GPTConfig
from .training import distributed
from .training.loop import History, train
from .training.optim import configure_optimizer
from .training.schedules import cosine_schedule
from .utils._checks import is_int, is_number
from .utils.seeding import set_seed

__all__ = ["DEFAULTS", "load_config", "run", "main"]

#: Every config key with its default. A config file gives any subset of them.
DEFAULTS: dict[str, Any] = {
    "model": {  # GPTConfig fields; vocab_size comes from the tokenizer
        "d_model": 128,
        "num_heads": 4,
        "num_layers": 4,
        "dropout": 0.0,
    },
    "plays": None,  # a play name or a list of them (see shakespeare_plays()); None: all 12
    "val_fraction": 0.1,  # the last 10% of the text is held out for validation
    "batch_size": 32,  # sequences per process per micro-batch
    "block_size": 128,  # characters per training sequence; model.max_len defaults to it
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


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


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
        raise ValueError(f"unknown config keys {unknown}; the known keys are {sorted(DEFAULTS)}")
    config = {**DEFAULTS, **given}
    config["model"] = {**DEFAULTS["model"], **(given.get("model") or {})}
    _check(config)
    return config


def _check(c: dict[str, Any]) -> None:
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
    plays = c["plays"]
    if plays is not None and not isinstance(plays, str):
        if not isinstance(plays, list) or not plays or not all(isinstance(p, str) for p in plays):
            _fail("plays", "a play name, a non-empty list of play names, or null", plays)
    model = c["model"]
    if not isinstance(model, dict):
        _fail("model", "an object of GPTConfig fields", model)
    fields = {f.name for f in dataclasses.fields(GPTConfig)} - {"vocab_size"}
    unknown = sorted(set(model) - fields)
    if "vocab_size" in model:
        raise ValueError(
            "config key 'model' must not set vocab_size: the character tokenizer fixes it"
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


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _derive_seed(*parts: Any) -> int:
    """A 63-bit seed from several parts: distinct (seed, rank, step) give unrelated streams."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _windows(data: Tensor, starts: Tensor, block_size: int) -> tuple[Tensor, Tensor]:
    """Inputs and next-character targets, both ``(B, block_size)``, from ``(B,)`` starts."""
    offsets = starts.to(data.device)[:, None] + torch.arange(block_size + 1, device=data.device)
    window = data[offsets]  # (B, block_size + 1): gathered where the data lives
    return window[:, :-1], window[:, 1:]


def _lm_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    x, y = batch
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def _param_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes, by name: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def run(
    config: dict[str, Any],
    *,
    stop_after: int | None = None,
    write_param_digest: bool = False,
) -> dict[str, Any]:
    """Train as ``config`` (see :func:`load_config`) says, in this process.

    Call it in every process of a ``torchrun`` launch (it joins the process group itself),
    or in a single process.

    Args:
        config: a dict of settings, checked and completed by :func:`load_config`.
        stop_after: stop once this many steps (in total) are done, with a checkpoint, as if
            the run had been interrupted there; the learning-rate schedule still spans
            ``config["steps"]``. Running again continues it. For splitting a long run into
            jobs with a time limit, and for testing resumption.
        write_param_digest: every rank writes the SHA-256 of its final weights (and the
            steps at which it wrote checkpoints) to ``out_dir/params.rank{R}.json``, to
            check that all ranks agree.

    Returns:
        ``{"val_loss", "step", "history", "world_size", "rank", "seconds"}``: the
        validation loss after the last step done, and that step.
    """
    c = load_config(config)
    if stop_after is not None and (not is_int(stop_after) or stop_after < 1):
        raise ValueError(f"stop_after must be an int >= 1 or None, but got {stop_after!r}")
    last = c["steps"] if stop_after is None else min(stop_after, c["steps"])
    info = distributed.setup_distributed(device=c["device"])
    try:
        return _run(c, info, last, write_param_digest)
    finally:
        distributed.cleanup()


def _log(info: distributed.DistributedInfo, message: str) -> None:
    if info.is_main:
        print(message, flush=True)


def _run(
    c: dict[str, Any], info: distributed.DistributedInfo, last: int, write_param_digest: bool
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rank, world, device = info.rank, info.world_size, info.device
    out_dir = Path(c["out_dir"])

    text = load_shakespeare(c["plays"])
    tokenizer = CharTokenizer([text])
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    cut = int(len(data) * (1 - c["val_fraction"]))
    T, B = c["block_size"], c["batch_size"]
    if min(cut, len(data) - cut) <= T + 1:
        raise ValueError(
            f"block_size={T} is too long for the text ({len(data):,} characters, "
            f"{len(data) - cut:,} of them for validation): shorten it or choose more plays"
        )
    train_data, val_data = data[:cut].to(device), data[cut:].to(device)

    set_seed(c["seed"])  # the same initial weights on every rank (DDP also broadcasts them)
    model_config = GPTConfig(vocab_size=tokenizer.vocab_size, **{"max_len": T, **c["model"]})
    model = GPT(model_config).to(device)
    optimizer = configure_optimizer(
        model, c["lr"], weight_decay=c["weight_decay"], betas=tuple(c["betas"]), fused=c["fused"]
    )
    scheduler = cosine_schedule(optimizer, c["warmup_steps"], c["steps"], c["min_lr_factor"])
    wrapped: nn.Module = model
    if world > 1:
        # Gradients are averaged over the ranks during backward; the weights start equal
        # (DDP copies rank 0's at construction) and so stay equal after every step.
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=info.device_ids)
    # Each rank its own dropout masks (the weights were initialised before this).
    torch.manual_seed(_derive_seed(c["seed"], "dropout", rank))

    def get_batch(i: int) -> tuple[Tensor, Tensor]:
        # A pure function of (seed, rank, i), so a resumed run draws the batches it would have.
        g = torch.Generator().manual_seed(_derive_seed(c["seed"], "train", rank, i))
        return _windows(train_data, torch.randint(len(train_data) - T, (B,), generator=g), T)

    # Fixed validation batches, shared out: rank r takes batches r, r + N, r + 2N, ...
    val_starts = [
        torch.randint(
            len(val_data) - T,
            (B,),
            generator=torch.Generator().manual_seed(_derive_seed(c["seed"], "val", j)),
        )
        for j in range(c["eval_batches"])
    ]

    def evaluate(_: nn.Module) -> dict[str, float]:
        total = torch.zeros(2, device=device)  # (sum of batch losses, number of batches)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for j in range(rank, c["eval_batches"], world):
                total[0] += _lm_loss(model, _windows(val_data, val_starts[j], T))
                total[1] += 1
        model.train(was_training)
        total = distributed.all_reduce_mean(total)  # the mean of sums / mean of counts
        return {"val_loss": float(total[0] / total[1])}

    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "run_config.json").write_text(json.dumps(c, indent=2) + "\n")
        tokenizer.save(out_dir / "tokenizer.json")
    _log(info, f"{world} process(es) on {device} ({info.backend or 'no process group'})")
    _log(
        info,
        f"{model.num_parameters():,} parameters; {len(data):,} characters, "
        f"vocabulary {tokenizer.vocab_size}; "
        f"{B * c['accumulation_steps'] * world * T:,} tokens per step",
    )

    interval = c["checkpoint_interval"] or c["eval_interval"]
    history: History = train(
        wrapped,
        get_batch,
        _lm_loss,
        optimizer,
        steps=last,
        clip_grad_norm=c["grad_clip"],
        scheduler=scheduler,
        progress=c["progress"],
        desc=f"shakespeare x{world}",
        accumulation_steps=c["accumulation_steps"],
        amp=c["amp"],
        compile=c["compile"],
        eval_fn=evaluate,
        eval_every=c["eval_interval"],
        checkpoint_path=out_dir / "checkpoint",
        checkpoint_every=interval,
        resume=c["resume"],
    )
    if history.evals and history.evals[-1][0] == last:
        final = history.evals[-1][1]["val_loss"]
    else:  # resumed from a checkpoint that had no evaluation at its last step
        final = evaluate(model)["val_loss"]
    seconds = time.perf_counter() - t0

    if info.is_main:
        model.save_pretrained(out_dir / "model")
        metrics = {
            "world_size": world,
            "step": last,
            "train_losses": list(history),
            "evals": history.evals,
            "val_loss": final,
            "seconds": seconds,
        }
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    if write_param_digest:
        out_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "rank": rank,
            "world_size": world,
            "sha256": _param_digest(model),
            "checkpoints_written": history.checkpoints,
            "losses": list(history),
        }
        (out_dir / f"params.rank{rank}.json").write_text(json.dumps(record) + "\n")
    what = "final validation loss" if last == c["steps"] else f"validation loss at step {last}"
    _log(info, f"{what}: {final:.4f} (perplexity {math.exp(final):.2f})")
    _log(info, f"done in {seconds:.1f} s; outputs in {out_dir}")
    return {
        "val_loss": final,
        "step": last,
        "history": history,
        "world_size": world,
        "rank": rank,
        "seconds": seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m transformer_lib.pretrain --config CONFIG.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m transformer_lib.pretrain",
        description="Train a character-level GPT on Shakespeare; under torchrun, on N "
        "processes with DistributedDataParallel.",
    )
    parser.add_argument("--config", help="a JSON file of settings (defaults for the rest)")
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="stop (with a checkpoint) once this many steps are done; run again to go on",
    )
    parser.add_argument(
        "--write-param-digest",
        action="store_true",
        help="every rank writes a hash of its final weights to out_dir (for tests)",
    )
    parser.add_argument(
        "--print-defaults", action="store_true", help="print the default config and exit"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for PyTorch (default: PyTorch's, one per core); with other "
        "PyTorch processes on the same cores, give each a share of them",
    )
    args = parser.parse_args(argv)
    if args.print_defaults:
        print(json.dumps(DEFAULTS, indent=2))
        return 0
    try:
        config = load_config(args.config)
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"--stop-after must be >= 1, but is {args.stop_after}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, but is {args.threads}")
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"error: {e}\n")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    run(config, stop_after=args.stop_after, write_param_digest=args.write_param_digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
