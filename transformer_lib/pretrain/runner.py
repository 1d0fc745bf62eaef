"""One training run in this process (one rank of a ``torchrun`` launch, or the only one):
read and tokenize the text, build the model, train with :func:`~transformer_lib.train`, write
the outputs."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import random_blocks
from ..data.bpe import BPETokenizer
from ..data.tokenizers import CharTokenizer
from ..datasets.shakespeare import load_shakespeare
from ..models.gpt.model import GPT, GPTConfig
from ..training import distributed
from ..training.loop import History, train
from ..training.optim import configure_optimizer
from ..training.schedules import cosine_schedule
from ..utils._checks import is_int
from ..utils.seeding import set_seed
from .config import load_config

__all__ = ["run"]


def _derive_seed(*parts: Any) -> int:
    """A 63-bit seed from several parts: distinct (seed, rank, step) give unrelated streams."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _read_text(c: dict[str, Any]) -> str:
    if c["text_file"] is None:
        return load_shakespeare(c["plays"])
    path = Path(c["text_file"])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"config key 'text_file': {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"config key 'text_file': {path} is not UTF-8 text ({e})") from None
    if not text:
        raise ValueError(f"config key 'text_file': {path} is empty")
    return text


def _tokenize(c: dict[str, Any], text: str) -> tuple[Any, Tensor]:
    """The tokenizer (trained on ``text``) and the whole text as one ``(N,)`` id stream."""
    if c["tokenizer"] == "bpe":
        tokenizer: Any = BPETokenizer.train(text, c["vocab_size"])
    else:
        tokenizer = CharTokenizer([text])
    return tokenizer, torch.tensor(tokenizer.encode(text), dtype=torch.long)


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


def _split(c: dict[str, Any], data: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """Training and validation streams (the last ``val_fraction``), on ``device``."""
    cut = int(len(data) * (1 - c["val_fraction"]))
    T = c["block_size"]
    if min(cut, len(data) - cut) <= T + 1:
        what = "a longer text file" if c["text_file"] else "more plays"
        raise ValueError(
            f"block_size={T} is too long for the text ({len(data):,} tokens, "
            f"{len(data) - cut:,} of them for validation): shorten it or choose {what}"
        )
    return data[:cut].to(device), data[cut:].to(device)


def _build(
    c: dict[str, Any], info: distributed.DistributedInfo, vocab_size: int
) -> tuple[GPT, nn.Module, torch.optim.Optimizer, Any]:
    """The model, its training wrapper (DDP with several processes), optimizer, schedule."""
    set_seed(c["seed"])  # the same initial weights on every rank (DDP also broadcasts them)
    config = GPTConfig(vocab_size=vocab_size, **{"max_len": c["block_size"], **c["model"]})
    model = GPT(config).to(info.device)
    optimizer = configure_optimizer(
        model, c["lr"], weight_decay=c["weight_decay"], betas=tuple(c["betas"]), fused=c["fused"]
    )
    scheduler = cosine_schedule(optimizer, c["warmup_steps"], c["steps"], c["min_lr_factor"])
    wrapped: nn.Module = model
    if info.world_size > 1:
        # Gradients are averaged over the ranks during backward; the weights start equal
        # (DDP copies rank 0's at construction) and so stay equal after every step.
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=info.device_ids)
    # Each rank its own dropout masks (the weights were initialised before this).
    torch.manual_seed(_derive_seed(c["seed"], "dropout", info.rank))
    return model, wrapped, optimizer, scheduler


def _batches(c: dict[str, Any], rank: int, train_data: Tensor) -> Any:
    def get_batch(i: int) -> tuple[Tensor, Tensor]:
        # A pure function of (seed, rank, i), so a resumed run draws the batches it would have.
        g = torch.Generator().manual_seed(_derive_seed(c["seed"], "train", rank, i))
        return random_blocks(train_data, c["block_size"], c["batch_size"], generator=g)

    return get_batch


def _evaluator(
    c: dict[str, Any], info: distributed.DistributedInfo, model: nn.Module, val_data: Tensor
) -> Any:
    """The validation loss on fixed batches, shared out: rank r takes batches r, r + N, ..."""

    def batch(j: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(_derive_seed(c["seed"], "val", j))
        return random_blocks(val_data, c["block_size"], c["batch_size"], generator=g)

    def evaluate(_: nn.Module) -> dict[str, float]:
        total = torch.zeros(2, device=info.device)  # (sum of batch losses, number of batches)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for j in range(info.rank, c["eval_batches"], info.world_size):
                total[0] += _lm_loss(model, batch(j))
                total[1] += 1
        model.train(was_training)
        total = distributed.all_reduce_mean(total)  # the mean of sums / mean of counts
        return {"val_loss": float(total[0] / total[1])}

    return evaluate


def _run(
    c: dict[str, Any], info: distributed.DistributedInfo, last: int, write_param_digest: bool
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rank, world = info.rank, info.world_size
    out_dir = Path(c["out_dir"])
    tokenizer, data = _tokenize(c, _read_text(c))
    train_data, val_data = _split(c, data, info.device)
    model, wrapped, optimizer, scheduler = _build(c, info, tokenizer.vocab_size)
    evaluate = _evaluator(c, info, model, val_data)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "run_config.json").write_text(json.dumps(c, indent=2) + "\n")
        tokenizer.save(out_dir / "tokenizer.json")
    _log(info, f"{world} process(es) on {info.device} ({info.backend or 'no process group'})")
    tokens_per_step = c["batch_size"] * c["accumulation_steps"] * world * c["block_size"]
    _log(
        info,
        f"{model.num_parameters():,} parameters; {len(data):,} tokens, "
        f"vocabulary {tokenizer.vocab_size}; {tokens_per_step:,} tokens per step",
    )
    source = Path(c["text_file"]).name if c["text_file"] else "shakespeare"
    history: History = train(
        wrapped,
        _batches(c, rank, train_data),
        _lm_loss,
        optimizer,
        steps=last,
        clip_grad_norm=c["grad_clip"],
        scheduler=scheduler,
        progress=c["progress"],
        desc=f"{source} x{world}",
        accumulation_steps=c["accumulation_steps"],
        amp=c["amp"],
        compile=c["compile"],
        eval_fn=evaluate,
        eval_every=c["eval_interval"],
        checkpoint_path=out_dir / "checkpoint",
        checkpoint_every=c["checkpoint_interval"] or c["eval_interval"],
        resume=c["resume"],
    )
    if history.evals and history.evals[-1][0] == last:
        final = history.evals[-1][1]["val_loss"]
    else:  # resumed from a checkpoint that had no evaluation at its last step
        final = evaluate(model)["val_loss"]
    seconds = time.perf_counter() - t0
    result = {"val_loss": final, "step": last, "history": history, "world_size": world,
              "rank": rank, "seconds": seconds}  # fmt: skip
    _write_outputs(c, info, model, tokenizer, result, write_param_digest)
    what = "final validation loss" if last == c["steps"] else f"validation loss at step {last}"
    _log(info, f"{what}: {final:.4f} (perplexity {math.exp(final):.2f})")
    _log(info, f"done in {seconds:.1f} s; outputs in {out_dir}")
    return result


def _write_outputs(
    c: dict[str, Any],
    info: distributed.DistributedInfo,
    model: GPT,
    tokenizer: Any,
    result: dict[str, Any],
    write_param_digest: bool,
) -> None:
    out_dir, history = Path(c["out_dir"]), result["history"]
    if info.is_main:
        model.save_pretrained(out_dir / "model", tokenizer=tokenizer)
        metrics = {
            "world_size": info.world_size,
            "step": result["step"],
            "train_losses": list(history),
            "evals": history.evals,
            "val_loss": result["val_loss"],
            "seconds": result["seconds"],
        }
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    if write_param_digest:
        out_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "rank": info.rank,
            "world_size": info.world_size,
            "sha256": _param_digest(model),
            "checkpoints_written": history.checkpoints,
            "losses": list(history),
        }
        (out_dir / f"params.rank{info.rank}.json").write_text(json.dumps(record) + "\n")
