"""Save and load training checkpoints safely: atomic writes, no pickled code, clear errors.

A checkpoint is a directory::

    path/
        model.safetensors   the model's state dict (weights and buffers), safetensors format
        config.json         format version, step, the caller's ``config`` and ``extra`` (JSON)
        training_state.pt   optimizer, scheduler, grad-scaler and RNG states (``torch.save``)

Why three files: safetensors holds only tensors and cannot run code when read; JSON is
readable by a human; optimizer and scheduler states are nested dicts of tensors and numbers,
which ``torch.load(weights_only=True)`` reads without unpickling arbitrary objects. Nothing
in a checkpoint can execute code on load.

Why atomic: a run killed while saving (Ctrl-C, out of memory, a pre-empted machine) must not
destroy the previous good checkpoint. Everything is written into a temporary directory next
to ``path``, flushed to disk, and only then switched into place with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_exists",
    "MODEL_FILE",
    "CONFIG_FILE",
    "STATE_FILE",
]

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "training_state.pt"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` and force it to disk, so a crash after the rename cannot lose it."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Persist a directory's entries (renames) on file systems that need it; no-op elsewhere."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rng_state() -> dict[str, Any]:
    """Every random stream a training step may draw from, as tensors and plain numbers."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        # A numpy array would need unpickling; a tensor loads under weights_only=True.
        state["numpy"] = (kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached)
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        try:
            import numpy as np
        except ImportError:
            return
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    step: int = 0,
    config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> Path:
    """Save ``model`` (and optionally training state) to the directory ``path``, atomically.

    Args:
        path: the checkpoint directory; an existing checkpoint there is replaced only once
            the new one is completely on disk.
        model: its ``state_dict()`` is saved. Tied (shared) tensors are saved as separate
            copies, which ``load_checkpoint`` copies back into the one shared parameter.
        optimizer, scheduler, scaler: their ``state_dict()`` is saved, if given.
        step: the number of optimisation steps done so far.
        config: JSON-serialisable description of the model (e.g. its constructor arguments).
        extra: any other JSON-serialisable data (e.g. the loss history).

    The RNG states (PyTorch CPU and CUDA, Python, NumPy) are saved too, so that
    ``load_checkpoint(..., restore_rng=True)`` can continue a run exactly.
    Returns ``path`` as a ``Path``.
    """
    from safetensors.torch import save as safetensors_save

    path = Path(path)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, but got {step!r}")
    meta = {"format_version": FORMAT_VERSION, "step": step, "config": config, "extra": extra}
    try:
        # Serialise before touching the disk: a bad config must not leave a temp dir behind.
        meta_bytes = json.dumps(meta, indent=2, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise TypeError(f"config and extra must be JSON-serialisable: {e}") from e
    # copy=True: safetensors refuses tensors that share memory (tied weights), and contiguous
    # copies are what it stores anyway.
    tensors = {
        k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()
    }
    state: dict[str, Any] = {"step": step, "rng": _rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        state["scaler"] = scaler.state_dict()

    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary directory lives next to the target so that os.replace is a rename within
    # one file system (atomic), never a copy.
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        _write_bytes(tmp / MODEL_FILE, safetensors_save(tensors, metadata={"format": "pt"}))
        with open(tmp / STATE_FILE, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        # config.json last: its presence marks a complete checkpoint.
        _write_bytes(tmp / CONFIG_FILE, meta_bytes)
        _fsync_dir(tmp)
        if path.exists():
            # A directory cannot be renamed onto a non-empty one, so move the old one aside
            # first; load_checkpoint falls back to it if we die before the next line.
            old = path.parent / f".{path.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The set-aside old checkpoint, and any left by a save that died mid-switch, are obsolete.
    for stale in path.parent.glob(f".{path.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return path


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _resolve(path: Path) -> Path:
    """The checkpoint directory, or the set-aside previous one if a save died mid-switch."""
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"checkpoint {path} is not a directory")
    backups = sorted(
        path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for backup in backups:
        if (backup / CONFIG_FILE).is_file():
            return backup
    raise FileNotFoundError(f"no checkpoint at {path}")


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """Whether ``load_checkpoint(path, ...)`` would find a complete checkpoint to read."""
    try:
        return (_resolve(Path(path)) / CONFIG_FILE).is_file()
    except (FileNotFoundError, ValueError):
        return False


def _check_weights(path: Path, model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for name in sorted(set(expected) & set(tensors)):
        if expected[name].shape != tensors[name].shape:
            problems.append(
                f"parameter {name!r} has shape {tuple(tensors[name].shape)} in the checkpoint "
                f"but {tuple(expected[name].shape)} in the model"
            )
    if problems:
        raise ValueError(
            f"checkpoint {path / MODEL_FILE} does not match the model: " + "; ".join(problems)
        )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    map_location: str | torch.device = "cpu",
    scaler: torch.amp.GradScaler | None = None,
    restore_rng: bool = False,
) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (and the others given).

    Weights are copied into the model's existing parameters (``load_state_dict``), so the
    model keeps its device and dtype; ``map_location`` applies to optimizer state.
    ``restore_rng=True`` also restores the random number generators, to continue a run
    exactly where it stopped.

    Returns ``{"step": int, "config": ..., "extra": ...}``.

    Raises:
        FileNotFoundError: no checkpoint at ``path`` or a file of it is missing.
        ValueError: a file is truncated or corrupted, or the weights do not match the model
            (missing or unexpected keys, a parameter of another shape); the message names the
            file and the problem.
    """
    from safetensors.torch import load as safetensors_load

    path = _resolve(Path(path))
    for name in (CONFIG_FILE, MODEL_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"checkpoint {path} is incomplete: {name} is missing")

    try:
        meta = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
            raise ValueError("it is not a checkpoint description with an integer 'step'")
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"checkpoint file {path / CONFIG_FILE} is corrupted: {e}") from e
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format version {meta['format_version']}, newer than the "
            f"{FORMAT_VERSION} this library reads"
        )

    try:
        tensors = safetensors_load((path / MODEL_FILE).read_bytes())
    except Exception as e:  # safetensors raises its own error type for every kind of damage
        raise ValueError(
            f"checkpoint file {path / MODEL_FILE} is truncated or corrupted: {e}"
        ) from e
    _check_weights(path, model, tensors)

    state: dict[str, Any] = {}
    wanted = optimizer is not None or scheduler is not None or scaler is not None or restore_rng
    if wanted:
        if not (path / STATE_FILE).is_file():
            raise FileNotFoundError(f"checkpoint {path} is incomplete: {STATE_FILE} is missing")
        try:
            # weights_only=True: tensors, numbers, strings and containers only; never code.
            state = torch.load(path / STATE_FILE, map_location=map_location, weights_only=True)
        except Exception as e:
            raise ValueError(
                f"checkpoint file {path / STATE_FILE} is truncated or corrupted: {e}"
            ) from e
        for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
            if obj is not None and key not in state:
                raise ValueError(f"checkpoint {path} has no {key} state to load")

    model.load_state_dict(tensors)
    try:
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if scaler is not None:
            scaler.load_state_dict(state["scaler"])
    except (ValueError, KeyError, RuntimeError) as e:
        raise ValueError(f"checkpoint {path / STATE_FILE} does not match: {e}") from e
    if restore_rng:
        _set_rng_state(state["rng"])
    return {"step": meta["step"], "config": meta.get("config"), "extra": meta.get("extra")}
