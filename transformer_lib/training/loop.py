"""A small training loop: progress bar, gradient accumulation, mixed precision, evaluation
hooks, resumable checkpoints, ``torch.compile`` and data-parallel runs (chapters 1, 5 and 7).

The loop never waits for the GPU inside a step: the losses stay on the device and are copied
to the host together every ``log_every`` steps (see :func:`train`).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from ..models.pretrained import describe
from ..utils._checks import is_int, is_number
from ..utils._state_dict import unwrap
from ..utils.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from ._distributed_state import (
    find_ddp,
    gather_rank_rngs,
    rank_and_world_size,
    restore_rank_rng,
)
from .mixed_precision import amp_dtype, check_amp

__all__ = ["train", "History"]

_WARNED_NO_TQDM = False


class History(list):
    """The per-step losses (a plain ``list`` of floats) plus the evaluations made on the way.

    ``evals`` is a list of ``(step, metrics)`` pairs, ``step`` counting optimisation steps
    done (1-based: the evaluation after the first step has ``step == 1``).
    ``checkpoints`` lists the steps at which this process wrote a checkpoint (in a
    distributed run only rank 0 writes, so it stays empty on the other ranks).
    """

    def __init__(self, losses=(), evals=()):
        super().__init__(losses)
        self.evals: list[tuple[int, dict[str, float]]] = list(evals)
        self.checkpoints: list[int] = []


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
    if not is_int(value) or value < 1:
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
    compile: bool = False,
    eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
    eval_every: int | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    log_every: int = 10,
) -> History:
    """Run ``steps`` optimisation steps and return the loss of each step.

    Args:
        model: put in training mode for the run (and left there). It may be wrapped in
            ``torch.compile`` or ``DistributedDataParallel``; checkpoints always hold the
            plain model inside.
        get_batch: ``get_batch(step)`` returns the batch for that step. With gradient
            accumulation it is called ``accumulation_steps`` times per optimisation step,
            with the micro-batch index ``step * accumulation_steps + i``. To resume a run
            exactly, it must be a pure function of its argument (e.g. draw from a generator
            seeded with it), since a resumed run does not replay the earlier calls.
        loss_fn: ``loss_fn(model, batch)`` returns a scalar loss tensor (the batch mean).
        optimizer: steps once per optimisation step (see ``configure_optimizer`` for AdamW
            with weight decay on the matrices only, fused where PyTorch supports it).
        steps: number of optimisation steps (in total, counting those of a resumed run).
        clip_grad_norm: clip the global gradient norm to this value, if given.
        scheduler: stepped once per optimisation step, if given.
        progress: show a ``tqdm`` progress bar with the running loss (none, with a warning,
            if tqdm is not installed).
        desc: the progress bar's label.
        accumulation_steps: micro-batches per optimisation step. Their losses are averaged,
            so ``k`` micro-batches of size ``b`` give the same update as one batch of
            ``k * b`` (for a model without batch-dependent layers such as dropout or
            batch norm): a big effective batch in the memory of a small one. Under
            ``DistributedDataParallel`` the gradients are all-reduced once per optimisation
            step, after the last micro-batch, not after each.
        amp: mixed precision with ``torch.autocast`` on the batch's device. ``True`` picks
            bfloat16 on CPU (and other devices) and float16 on CUDA, where a
            ``torch.amp.GradScaler`` scales the loss so small float16 gradients do not
            underflow; ``"bfloat16"`` or ``"float16"`` choose explicitly. Where autocast
            does not support the device or dtype, a warning is given and the run is in full
            precision. Weights and optimizer state stay in float32. (The scaler must know
            whether a step's gradients overflowed; with a fused optimizer, such as the AdamW
            of ``configure_optimizer`` on CUDA, the check happens on the GPU, otherwise it
            makes the host wait for the GPU once per step.)
        compile: run the training steps through ``torch.compile(model)``: the first steps
            are slow while it compiles, the later ones faster on a GPU. The same as passing
            ``torch.compile(model)`` yourself; ``eval_fn`` gets the uncompiled model, so that
            evaluation (other shapes, no gradients) does not trigger a second compilation.
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
            interrupted (on the same machine, with a pure ``get_batch``), even when the
            process was killed in the middle of writing a checkpoint (the previous one is
            then loaded). A damaged checkpoint raises ``ValueError`` rather than silently
            starting over.
        log_every: steps between copies of the losses from the device to the host, which
            also update the progress bar's loss and check that the loss is finite. Reading a
            loss (``loss.item()``) makes the host wait until the GPU has computed it, so the
            loop reads them only every ``log_every`` steps, at evaluations and checkpoints,
            and at the end; meanwhile the host queues the next steps' work.

    Distributed runs: when ``torch.distributed`` is initialised (e.g. under ``torchrun``,
    see ``transformer_lib.training.distributed``), every rank runs this loop on its own batches with
    the model wrapped in ``DistributedDataParallel``. Each step's loss in the history is the
    mean over the ranks (the loss of the whole global batch), the same on every rank. Only
    rank 0 shows the progress bar and writes checkpoints (with every rank's RNG state);
    every rank resumes from them. ``eval_fn`` runs on every rank, so it may use collectives.

    Returns:
        ``History``: a list of per-step losses (floats), with the evaluations in ``.evals``.

    Raises:
        FloatingPointError: the loss became NaN or infinite. It is found when the losses are
            next copied to the host, so up to ``log_every - 1`` further steps may have run;
            the message names the first step with a non-finite loss.
    """
    _check_train_args(
        model, get_batch, loss_fn, optimizer, scheduler, clip_grad_norm, amp, compile,
        steps=steps, accumulation_steps=accumulation_steps, eval_every=eval_every,
        checkpoint_every=checkpoint_every, log_every=log_every, eval_fn=eval_fn,
        checkpoint_path=checkpoint_path,
    )  # fmt: skip
    run = _Run(model, optimizer, scheduler, amp, compile, accumulation_steps)
    start = 0
    if checkpoint_path is not None and resume and checkpoint_exists(checkpoint_path):
        start = run.resume(checkpoint_path, steps)
    run.open_progress_bar(progress, start, steps, desc)
    model.train()
    try:
        for step in range(start, steps):
            run.step(step, get_batch, loss_fn, clip_grad_norm)
            done = step + 1
            do_eval = eval_fn is not None and (
                done == steps or (eval_every is not None and done % eval_every == 0)
            )
            do_checkpoint = checkpoint_path is not None and (
                done == steps or (checkpoint_every is not None and done % checkpoint_every == 0)
            )
            if done % log_every == 0 or done == steps or do_eval or do_checkpoint:
                run.log()
            if do_eval:
                run.evaluate(eval_fn, done)
            if do_checkpoint:
                run.checkpoint(checkpoint_path, done)
    finally:
        run.close_progress_bar()
    return run.history


def _check_train_args(
    model: Any,
    get_batch: Any,
    loss_fn: Any,
    optimizer: Any,
    scheduler: Any,
    clip_grad_norm: Any,
    amp: Any,
    compile: Any,
    *,
    steps: Any,
    accumulation_steps: Any,
    eval_every: Any,
    checkpoint_every: Any,
    log_every: Any,
    eval_fn: Any,
    checkpoint_path: Any,
) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, but got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, but got {type(optimizer).__name__}"
        )
    for name, fn in (("get_batch", get_batch), ("loss_fn", loss_fn)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable, but got {type(fn).__name__}")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(
            f"scheduler must be a learning-rate scheduler (with .step()) or None, "
            f"but got {type(scheduler).__name__}"
        )
    if clip_grad_norm is not None and not (is_number(clip_grad_norm) and clip_grad_norm > 0):
        raise ValueError(
            f"clip_grad_norm must be a positive number or None, but got {clip_grad_norm!r}"
        )
    _check_positive("steps", steps)
    _check_positive("accumulation_steps", accumulation_steps)
    _check_positive("eval_every", eval_every, allow_none=True)
    _check_positive("checkpoint_every", checkpoint_every, allow_none=True)
    _check_positive("log_every", log_every)
    check_amp(amp)
    if not isinstance(compile, bool):
        raise ValueError(f"compile must be True or False, but got {compile!r}")
    if eval_every is not None and eval_fn is None:
        raise ValueError("eval_every is given but eval_fn is None")
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("checkpoint_every is given but checkpoint_path is None")


class _Run:
    """The state of one call of :func:`train`, and its named steps: ``resume``, ``step``,
    ``log``, ``evaluate``, ``checkpoint``."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        amp: bool | str,
        compile: bool,
        accumulation_steps: int,
    ) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.amp, self.accumulation_steps = amp, accumulation_steps
        self.rank, self.world_size = rank_and_world_size()
        self.plain = unwrap(model)  # what checkpoints hold
        self.ddp = find_ddp(model)
        self.step_model = torch.compile(model) if compile else model
        self.eval_model = unwrap(model) if compile else model
        self.history = History()
        # Mixed precision, decided from the first batch (or the model, when resuming).
        self.amp_ready, self.amp_dtype, self.device_type = False, None, "cpu"
        self.scaler: torch.amp.GradScaler | None = None
        # Losses still on the device: one detached scalar per micro-batch, oldest first, for
        # the steps from `pending_from` on. Reading them forces a host-device sync, so it is
        # batched (see log).
        self.pending: list[Tensor] = []
        self.pending_from = 0
        self.bar: Any = None

    def setup_amp(self, device_type: str) -> None:
        if self.amp_ready:
            return
        self.amp_ready, self.device_type = True, device_type
        self.amp_dtype = amp_dtype(self.amp, device_type)
        if self.amp_dtype == torch.float16:
            # float16's narrow range needs loss scaling; bfloat16 has float32's range.
            self.scaler = torch.amp.GradScaler(device_type)

    def resume(self, path: str | os.PathLike, steps: int) -> int:
        """Load the checkpoint at ``path``; return its step."""
        if self.amp:  # a scaler must exist before loading its state (float16 runs only)
            self.setup_amp(next(self.model.parameters()).device.type)
        info = load_checkpoint(
            path,
            self.plain,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            restore_rng=True,
        )
        start = info["step"]
        extra = info.get("extra") or {}
        self.history = History(
            extra.get("losses", []), [(s, dict(m)) for s, m in extra.get("evals", [])]
        )
        if self.world_size > 1:
            restore_rank_rng(extra.get("rank_rngs"), self.rank, self.world_size)
        if start > steps:
            raise ValueError(f"the checkpoint at {path} is at step {start}, past steps={steps}")
        self.pending_from = start
        return start

    def step(self, step: int, get_batch: Callable, loss_fn: Callable, clip: float | None) -> None:
        """One optimisation step: ``accumulation_steps`` micro-batches, then the update."""
        k = self.accumulation_steps
        self.optimizer.zero_grad(set_to_none=True)
        for micro in range(k):
            batch = get_batch(step * k + micro)
            if not self.amp_ready:  # the first batch's device is where the computation runs
                tensor = _first_tensor(batch)
                if tensor is None:
                    tensor = next(self.model.parameters(), None)
                self.setup_amp(tensor.device.type if tensor is not None else "cpu")
            autocast = (
                torch.autocast(self.device_type, dtype=self.amp_dtype)
                if self.amp_dtype is not None
                else nullcontext()
            )
            # Under DDP, all-reduce the gradients only after the last micro-batch.
            last = micro == k - 1
            no_sync = self.ddp.no_sync() if self.ddp is not None and not last else nullcontext()
            with no_sync:
                with autocast:
                    loss = loss_fn(self.step_model, batch)
                _check_loss(loss)
                # Dividing each micro-batch loss makes the summed gradients their mean.
                scaled = loss.float() / k
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            self.pending.append(loss.detach())  # no .item(): that would wait for the device
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        if clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skips the step if the gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.bar is not None:
            self.bar.update(1)

    def log(self) -> None:
        """Copy the pending losses to the host in one go, check them, show their mean."""
        self._flush()
        if self.bar is not None:
            recent = self.history[-10:]
            # refresh=False: redraw only every `mininterval`, not at every postfix change
            self.bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", refresh=False)

    def _flush(self) -> None:
        if not self.pending:
            return
        stacked = torch.stack(self.pending)
        self.pending.clear()
        if self.world_size > 1:
            # The mean over the ranks: the loss of the whole global batch, equal on every rank.
            if stacked.dtype in (torch.float16, torch.bfloat16):
                stacked = stacked.float()
            torch.distributed.all_reduce(stacked)
            stacked = stacked / self.world_size
        values = stacked.tolist()  # one copy to the host for many steps
        k = self.accumulation_steps
        for i in range(0, len(values), k):
            # Summed in Python floats in micro-batch order, as loss.item() per step would be.
            total = 0.0
            for value in values[i : i + k]:
                total += value
            self.history.append(total / k)
            if not math.isfinite(self.history[-1]):
                raise FloatingPointError(
                    f"the loss became {self.history[-1]} at step {self.pending_from}"
                )
            self.pending_from += 1

    def evaluate(self, eval_fn: Callable, step: int) -> None:
        model = self.eval_model
        model.eval()
        try:
            with torch.no_grad():
                metrics = {k: float(v) for k, v in eval_fn(model).items()}
        finally:
            model.train()
        self.history.evals.append((step, metrics))
        if self.bar is not None:
            self.bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    def checkpoint(self, path: str | os.PathLike, step: int) -> None:
        extra: dict[str, Any] = {"losses": list(self.history), "evals": self.history.evals}
        if self.world_size > 1:
            # Each rank draws its own dropout masks; to resume exactly, each needs its stream.
            extra["rank_rngs"] = gather_rank_rngs(self.world_size)
        if self.rank != 0:
            return
        save_checkpoint(
            path,
            self.plain,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            step=step,
            config=describe(self.plain),  # so that Model.from_pretrained(path) reads it
            extra=extra,
        )
        self.history.checkpoints.append(step)

    def open_progress_bar(self, progress: bool, start: int, steps: int, desc: str) -> None:
        if progress and start < steps and self.rank == 0:
            self.bar = _progress_bar(steps, start, desc)

    def close_progress_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn must return a scalar tensor, but returned {type(loss).__name__}")
    if loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar, but returned shape {loss.shape}")
