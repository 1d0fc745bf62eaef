"""Save and load training checkpoints safely: atomic writes, no pickled code, clear errors.

A checkpoint is a directory::

    path/
        model.safetensors   the model's state dict (weights and buffers), safetensors format
        training_state.pt   optimizer, scheduler, grad-scaler and RNG states (``torch.save``)
        config.json         format version, step, the caller's ``config`` and ``extra``, and
                            the size and SHA-256 of the two other files (JSON)
        tokenizer.json      the tokenizer, if one was given

Any other file in the directory (a README, logs) is the user's: a new save keeps it.

Why three files: safetensors holds only tensors and cannot run code when read; JSON is
readable by a human; optimizer and scheduler states are nested dicts of tensors and numbers,
which ``torch.load(weights_only=True)`` reads without unpickling arbitrary objects. Nothing
in a checkpoint can execute code on load.

Why atomic: a run killed while saving (Ctrl-C, out of memory, a pre-empted machine) must not
destroy the previous good checkpoint. Everything is written into a temporary directory next
to ``path``, flushed to disk, and only then switched into place with ``os.replace``.
Temporary directories left by a save that was killed are never read, and the next
successful save removes them.

Why checksums: a file can be damaged after it was written (a full disk, a bad copy, a
flipped bit). Truncation or garbage in a file's header makes its parser fail, but a changed
byte inside the weights would load silently as a wrong number; the SHA-256 in
``config.json`` catches both, and the error names the file.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._checks import is_int
from ._rng import capture_rng_state, check_rng_state, set_rng_state
from ._state_dict import check_weights, unwrap

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
TOKENIZER_FILE = "tokenizer.json"
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


def _check_args(path: Any, model: Any, optimizer: Any, scheduler: Any) -> None:
    """Type checks shared by save and load, so a wrong argument is named, not an AttributeError."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, but got {type(path).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, but got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer or None, but got {type(optimizer).__name__}"
        )
    if scheduler is not None and not callable(getattr(scheduler, "state_dict", None)):
        raise TypeError(
            f"scheduler must have state_dict()/load_state_dict() or be None, "
            f"but got {type(scheduler).__name__}"
        )


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
    tokenizer: Any | None = None,
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
        tokenizer: an object with ``save(path)`` (every tokenizer of this library), written
            as ``tokenizer.json`` in the same atomic step;
            :func:`~transformer_lib.load_tokenizer` reads it back.

    Files in ``path`` that the checkpoint does not write (a README, a tokenizer saved
    separately, logs) are carried over into the new checkpoint: saving again never deletes
    them.

    The RNG states (PyTorch CPU and CUDA, Python, NumPy) are saved too, so that
    ``load_checkpoint(..., restore_rng=True)`` can continue a run exactly.
    Returns ``path`` as a ``Path``.
    """
    from safetensors.torch import save as safetensors_save

    _check_args(path, model, optimizer, scheduler)
    path = Path(path)
    if not is_int(step) or step < 0:
        raise ValueError(f"step must be an int >= 0, but got {step!r}")
    meta = {"format_version": FORMAT_VERSION, "step": step, "config": config, "extra": extra}
    try:
        # Check before any work or disk access: a bad config must not leave a temp dir behind.
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"config and extra must be JSON-serialisable: {e}") from e
    # A torch.compile'd or DDP-wrapped model's names carry a prefix ("_orig_mod.", "module."):
    # save the model inside, so that the checkpoint loads into a plain model.
    model = unwrap(model)
    # copy=True: safetensors refuses tensors that share memory (tied weights), and contiguous
    # copies are what it stores anyway.
    tensors = {
        k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()
    }
    state: dict[str, Any] = {"step": step, "rng": capture_rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    model_bytes = safetensors_save(tensors, metadata={"format": "pt"})
    buffer = io.BytesIO()
    torch.save(state, buffer)
    state_bytes = buffer.getvalue()
    # The checksums go into config.json, written last: a file damaged later is found on load.
    meta["files"] = {MODEL_FILE: _fingerprint(model_bytes), STATE_FILE: _fingerprint(state_bytes)}
    meta_bytes = json.dumps(meta, indent=2, allow_nan=False).encode("utf-8")

    def write(tmp: Path) -> None:
        _write_bytes(tmp / MODEL_FILE, model_bytes)
        _write_bytes(tmp / STATE_FILE, state_bytes)
        if tokenizer is not None:
            tokenizer.save(tmp / TOKENIZER_FILE)
        # config.json last: its presence marks a complete checkpoint.
        _write_bytes(tmp / CONFIG_FILE, meta_bytes)

    return replace_directory(path, write, ours=(MODEL_FILE, STATE_FILE, CONFIG_FILE))


def replace_directory(path: Path, write: Callable[[Path], None], *, ours: Iterable[str]) -> Path:
    """Replace the directory ``path`` by what ``write(tmp)`` puts into a new one, atomically.

    ``write`` fills a temporary directory next to ``path``; every other entry of the old
    ``path`` (the user's files) is carried over, except the names in ``ours``; only then is
    the new directory switched into place. A reader sees the old directory or the new one,
    never a mixture; after a crash the old one is found again (see :func:`load_checkpoint`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary directory lives next to the target so that os.replace is a rename within
    # one file system (atomic), never a copy.
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        write(tmp)
        if path.is_dir():
            # After our files: a hard link must never be written through.
            _carry_over(path, tmp, skip=tuple(ours))
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
    # The set-aside old directory, and any old or temporary directories left by a save that
    # was killed (SIGKILL or a power cut skip the cleanup above), are obsolete. This assumes
    # one writer per path, as in a training run (rank 0 only).
    name = glob.escape(path.name)
    for pattern in (f".{name}.old-*", f".{name}.tmp-*"):
        for stale in path.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)
    return path


def _carry_over(old: Path, new: Path, skip: tuple[str, ...]) -> None:
    """Link (or copy) into ``new`` every entry of ``old`` that ``new`` does not have yet."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)  # the same bytes, no copy: the old directory is removed next
        except OSError:
            shutil.copy2(src, dst)

    for entry in old.iterdir():
        target = new / entry.name
        if target.exists() or entry.name in skip:
            continue  # one of ours, freshly written
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=link_or_copy)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        else:
            link_or_copy(str(entry), str(target))


def _fingerprint(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _resolve(path: Path) -> Path:
    """The checkpoint directory, or the set-aside previous one if a save died mid-switch.

    Only ``path`` itself and a set-aside ``.NAME.old-*`` (a complete checkpoint moved away
    by ``os.replace``) are candidates; a ``.NAME.tmp-*`` directory may be half written and is
    never read.
    """
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"checkpoint {path} is not a directory")
    backups = sorted(
        path.parent.glob(f".{glob.escape(path.name)}.old-*"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for backup in backups:
        if (backup / CONFIG_FILE).is_file():
            return backup
    raise FileNotFoundError(f"no checkpoint at {path}")


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """Whether ``load_checkpoint(path, ...)`` would find a checkpoint to read.

    True when a checkpoint directory with its ``config.json`` is there (or set aside by a
    save that was killed); whether its files are intact is checked by ``load_checkpoint``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, but got {type(path).__name__}")
    try:
        return (_resolve(Path(path)) / CONFIG_FILE).is_file()
    except (FileNotFoundError, ValueError):
        return False


_ADVICE = (
    "load an earlier checkpoint if you kept one, or save this checkpoint again from the "
    "model that wrote it (or delete the directory to start the run over)"
)


def _damaged(file: Path, problem: str) -> ValueError:
    """The error for a damaged checkpoint file: which file, what is wrong, what to do."""
    return ValueError(f"checkpoint file {file} {problem}; {_ADVICE}")


def read_meta(path: Path) -> dict[str, Any]:
    """``config.json``, checked: a dict with a known format version and an int ``step``."""
    file = path / CONFIG_FILE
    try:
        meta = json.loads(file.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise _damaged(file, f"is truncated or corrupted (not valid JSON: {e})") from e
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise _damaged(
            file,
            "is not a checkpoint description (no 'format_version'; was it written by "
            "save_checkpoint?)",
        )
    version = meta["format_version"]
    if not is_int(version) or version < 1:
        raise _damaged(file, f"has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format version {version}, newer than the {FORMAT_VERSION} "
            "this library reads: update transformer_lib to load it"
        )
    step = meta.get("step")
    if not is_int(step) or step < 0:
        raise _damaged(file, f"has no valid 'step' (an int >= 0), but {step!r}")
    files = meta.get("files", {})  # absent in checkpoints written before checksums
    ok = isinstance(files, dict) and all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
        for v in files.values()
    )
    if not ok:
        raise _damaged(file, f"has an invalid 'files' entry {files!r}")
    return meta


def _read_verified(path: Path, name: str, meta: dict[str, Any]) -> bytes:
    """The bytes of ``path / name``, checked against the size and SHA-256 in ``meta``."""
    file = path / name
    if not file.is_file():
        raise ValueError(f"checkpoint {path} is incomplete: {name} is missing; {_ADVICE}")
    data = file.read_bytes()
    expected = meta.get("files", {}).get(name)
    if expected is not None:
        if len(data) != expected["bytes"]:
            kind = "truncated" if len(data) < expected["bytes"] else "longer than written"
            raise _damaged(file, f"is {kind}: {len(data)} bytes, but {expected['bytes']} saved")
        if hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise _damaged(file, "is corrupted: its SHA-256 differs from the one saved with it")
    return data


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
    exactly where it stopped. ``training_state.pt`` is read only when one of
    ``optimizer``, ``scheduler``, ``scaler`` or ``restore_rng`` asks for it.

    Every file read is checked (size and SHA-256 against ``config.json``, then parsed)
    before anything is changed, so a damaged checkpoint leaves the model, optimizer and
    RNGs as they were. Nothing read can execute code: the weights are safetensors, the
    training state is read with ``torch.load(weights_only=True)``.

    Returns ``{"step": int, "config": ..., "extra": ...}``.

    Raises:
        FileNotFoundError: no checkpoint at ``path`` (no directory with a ``config.json``).
        ValueError: a file of the checkpoint is missing, truncated or corrupted, of an
            unknown format version, or the weights do not match the model (missing or
            unexpected keys, a parameter of another shape); the message names the file
            and the problem.
    """
    from safetensors.torch import load as safetensors_load

    _check_args(path, model, optimizer, scheduler)
    path = _resolve(Path(path))
    if not (path / CONFIG_FILE).is_file():
        # Not a checkpoint at all (checkpoint_exists says False), e.g. an empty output folder.
        raise FileNotFoundError(f"no checkpoint at {path}: {CONFIG_FILE} is missing")
    meta = read_meta(path)

    data = _read_verified(path, MODEL_FILE, meta)
    try:
        tensors = safetensors_load(data)
    except Exception as e:  # safetensors raises its own error type for every kind of damage
        raise _damaged(path / MODEL_FILE, f"is truncated or corrupted: {e}") from e
    model = unwrap(model)
    check_weights(model, tensors, f"checkpoint {path / MODEL_FILE}", meta.get("config"))

    state: dict[str, Any] = {}
    wanted = optimizer is not None or scheduler is not None or scaler is not None or restore_rng
    if wanted:
        data = _read_verified(path, STATE_FILE, meta)
        try:
            # weights_only=True: tensors, numbers, strings and containers only; never code.
            state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception as e:
            raise _damaged(path / STATE_FILE, f"is truncated, corrupted or unsafe: {e}") from e
        if not isinstance(state, dict):
            raise _damaged(path / STATE_FILE, f"holds a {type(state).__name__}, not a dict")
        for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
            if obj is not None and key not in state:
                raise ValueError(f"checkpoint {path} has no {key} state to load")
        if restore_rng:
            try:
                check_rng_state(state.get("rng"))
            except ValueError as e:
                raise _damaged(
                    path / STATE_FILE, f"holds no valid random number generator states: {e}"
                ) from e

    # Everything is read and checked; now change the objects. The model last but one: the
    # optimizer's load_state_dict can still refuse (another parameter layout).
    try:
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if scaler is not None:
            scaler.load_state_dict(state["scaler"])
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ValueError(
            f"checkpoint {path / STATE_FILE} does not match the optimizer, scheduler or "
            f"scaler given: {e}"
        ) from e
    model.load_state_dict(tensors, strict=False)  # checked above, tied weights allowed for
    if restore_rng:
        set_rng_state(state["rng"])  # checked above
    return {"step": meta["step"], "config": meta.get("config"), "extra": meta.get("extra")}
