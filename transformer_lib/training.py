"""A small training loop: progress bar, gradient accumulation, mixed precision, evaluation
hooks and resumable checkpoints (chapters 1, 5 and 7)."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint

__all__ = ["train", "History"]

_WARNED_NO_TQDM = False


class History(list):
    """The per-step losses (a plain ``list`` of floats) plus the evaluations made on the way.

    ``evals`` is a list of ``(step, metrics)`` pairs, ``step`` counting optimisation steps
    done (1-based: the evaluation after the first step has ``step == 1``).
    """

    def __init__(self, losses=(), evals=()):
        super().__init__(losses)
        self.evals: list[tuple[int, dict[str, float]]] = list(evals)


def _first_tensor(obj: Any) -> Tensor | None:
    """The first tensor in a (nested) batch, to learn which device the batch lives on."""
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


_AMP_NAMES = ("bfloat16", "bf16", "float16", "fp16", "half")


def _check_amp(amp: Any) -> None:
    if not isinstance(amp, bool) and amp not in _AMP_NAMES:
        raise ValueError(f"amp must be a bool, 'bfloat16' or 'float16', but got {amp!r}")


def _amp_dtype(amp: bool | str, device_type: str) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device_type``, or None to run in full precision."""
    _check_amp(amp)
    if amp is False:
        return None
    if amp is True:
        dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
    else:
        dtype = torch.bfloat16 if amp in ("bfloat16", "bf16") else torch.float16
    try:
        available = torch.amp.is_autocast_available(device_type)
    except AttributeError:  # older PyTorch: autocast exists for these two
        available = device_type in ("cpu", "cuda")
    if not available or (device_type == "cpu" and dtype == torch.float16):
        warnings.warn(
            f"amp={amp!r} is not supported on {device_type}; training in full precision",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return dtype


def _progress_bar(total: int, initial: int, desc: str):
    global _WARNED_NO_TQDM
    try:
        from tqdm import tqdm
    except ImportError:
        if not _WARNED_NO_TQDM:
            warnings.warn("tqdm is not installed; training without a progress bar", stacklevel=3)
            _WARNED_NO_TQDM = True
        return None
    # The plain text bar works in terminals and notebooks alike, without ipywidgets.
    return tqdm(total=total, initial=initial, desc=desc, mininterval=1.0)


def _check_positive(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {value!r}")


def train(
    model: nn.Module,
    get_batch: Callable[[int], Any],
    loss_fn: Callable[[nn.Module, Any], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    clip_grad_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool = True,
    desc: str = "training",
    accumulation_steps: int = 1,
    amp: bool | str = False,
    eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
    eval_every: int | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
) -> History:
    """Run ``steps`` optimisation steps and return the loss of each step.

    Args:
        model: put in training mode for the run (and left there).
        get_batch: ``get_batch(step)`` returns the batch for that step. With gradient
            accumulation it is called ``accumulation_steps`` times per optimisation step,
            with the micro-batch index ``step * accumulation_steps + i``. To resume a run
            exactly, it must be a pure function of its argument (e.g. draw from a generator
            seeded with it), since a resumed run does not replay the earlier calls.
        loss_fn: ``loss_fn(model, batch)`` returns a scalar loss tensor (the batch mean).
        optimizer: steps once per optimisation step.
        steps: number of optimisation steps (in total, counting those of a resumed run).
        clip_grad_norm: clip the global gradient norm to this value, if given.
        scheduler: stepped once per optimisation step, if given.
        progress: show a ``tqdm`` progress bar with the running loss (none, with a warning,
            if tqdm is not installed).
        desc: the progress bar's label.
        accumulation_steps: micro-batches per optimisation step. Their losses are averaged,
            so ``k`` micro-batches of size ``b`` give the same update as one batch of
            ``k * b`` (for a model without batch-dependent layers such as dropout or
            batch norm): a big effective batch in the memory of a small one.
        amp: mixed precision with ``torch.autocast`` on the batch's device. ``True`` picks
            bfloat16 on CPU (and other devices) and float16 on CUDA, where a
            ``torch.amp.GradScaler`` scales the loss so small float16 gradients do not
            underflow; ``"bfloat16"`` or ``"float16"`` choose explicitly. Where autocast
            does not support the device or dtype, a warning is given and the run is in full
            precision. Weights and optimizer state stay in float32.
        eval_fn: ``eval_fn(model) -> {"name": value}`` run with the model in eval mode and
            gradients off; the model is back in training mode afterwards.
        eval_every: evaluate after every ``eval_every`` optimisation steps and after the last
            one; without it, ``eval_fn`` runs once at the end.
        checkpoint_path: a directory to save checkpoints to (see ``save_checkpoint``): every
            ``checkpoint_every`` steps, if given, and after the last step. Saving is atomic.
        checkpoint_every: steps between checkpoints.
        resume: if a checkpoint exists at ``checkpoint_path``, load the model, optimizer,
            scheduler, grad-scaler and RNG states and the history from it and continue from
            its step. A resumed run then gives the same per-step losses as one that was never
            interrupted (on the same machine, with a pure ``get_batch``).

    Returns:
        ``History``: a list of per-step losses (floats), with the evaluations in ``.evals``.
    """
    _check_positive("steps", steps)
    _check_positive("accumulation_steps", accumulation_steps)
    _check_positive("eval_every", eval_every, allow_none=True)
    _check_positive("checkpoint_every", checkpoint_every, allow_none=True)
    _check_amp(amp)
    if eval_every is not None and eval_fn is None:
        raise ValueError("eval_every is given but eval_fn is None")
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("checkpoint_every is given but checkpoint_path is None")

    history = History()
    start = 0
    amp_state: dict[str, Any] = {"ready": False, "dtype": None, "device": "cpu", "scaler": None}

    def setup_amp(batch: Any) -> None:
        # Decided from the first batch, whose device is where the computation happens.
        if amp_state["ready"]:
            return
        tensor = _first_tensor(batch)
        if tensor is None:
            tensor = next(model.parameters(), None)
        device_type = tensor.device.type if tensor is not None else "cpu"
        amp_state.update(ready=True, device=device_type, dtype=_amp_dtype(amp, device_type))
        if amp_state["dtype"] == torch.float16:
            # float16's narrow range needs loss scaling; bfloat16 has float32's range.
            amp_state["scaler"] = torch.amp.GradScaler(device_type)

    if checkpoint_path is not None and resume and checkpoint_exists(checkpoint_path):
        # A scaler must exist before loading its state; it only exists for float16 runs.
        if amp:
            device = next(model.parameters()).device
            amp_state.update(ready=True, device=device.type, dtype=_amp_dtype(amp, device.type))
            if amp_state["dtype"] == torch.float16:
                amp_state["scaler"] = torch.amp.GradScaler(device.type)
        info = load_checkpoint(
            checkpoint_path,
            model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=amp_state["scaler"],
            restore_rng=True,
        )
        start = info["step"]
        extra = info.get("extra") or {}
        history = History(
            extra.get("losses", []), [(s, dict(m)) for s, m in extra.get("evals", [])]
        )
        if start > steps:
            raise ValueError(
                f"the checkpoint at {checkpoint_path} is at step {start}, past steps={steps}"
            )

    def evaluate(step: int) -> None:
        model.eval()
        try:
            with torch.no_grad():
                metrics = {k: float(v) for k, v in eval_fn(model).items()}
        finally:
            model.train()
        history.evals.append((step, metrics))
        if bar is not None:
            bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    def checkpoint(step: int) -> None:
        save_checkpoint(
            checkpoint_path,
            model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=amp_state["scaler"],
            step=step,
            extra={"losses": list(history), "evals": history.evals},
        )

    bar = _progress_bar(steps, start, desc) if progress and start < steps else None
    model.train()
    try:
        for step in range(start, steps):
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for micro in range(accumulation_steps):
                batch = get_batch(step * accumulation_steps + micro)
                setup_amp(batch)
                dtype, scaler = amp_state["dtype"], amp_state["scaler"]
                context = (
                    torch.autocast(amp_state["device"], dtype=dtype)
                    if dtype is not None
                    else nullcontext()
                )
                with context:
                    loss = loss_fn(model, batch)
                if loss.ndim != 0:
                    raise ValueError(
                        f"loss_fn must return a scalar, but returned shape {loss.shape}"
                    )
                # Dividing each micro-batch loss makes the summed gradients their mean.
                scaled = loss.float() / accumulation_steps
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
                total += loss.item()
            history.append(total / accumulation_steps)
            if not math.isfinite(history[-1]):
                raise FloatingPointError(f"the loss became {history[-1]} at step {step}")
            if scaler is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            if scaler is not None:
                scaler.step(optimizer)  # skips the step if the gradients overflowed
                scaler.update()
            else:
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            done = step + 1
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or done == steps:
                    recent = history[-10:]
                    # refresh=False: redraw only every `mininterval`, not at every postfix change
                    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", refresh=False)
            if eval_fn is not None and (
                done == steps or (eval_every is not None and done % eval_every == 0)
            ):
                evaluate(done)
            if checkpoint_path is not None and (
                done == steps or (checkpoint_every is not None and done % checkpoint_every == 0)
            ):
                checkpoint(done)
    finally:
        if bar is not None:
            bar.close()
    return history
