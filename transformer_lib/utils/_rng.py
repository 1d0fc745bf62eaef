"""The one way random-number-generator states are captured, checked, stored and restored
(private).

A state is a dict: ``"torch"`` (a uint8 tensor), ``"python"`` (``random.getstate()``),
``"numpy"`` (its legacy global state, keys as an int64 tensor so that
``torch.load(weights_only=True)`` reads it) and ``"cuda"`` (``{device index: uint8 tensor}``).
:func:`load_checkpoint` keeps it in ``training_state.pt``; a distributed run keeps every
rank's in ``config.json``, through :func:`rng_state_to_json`.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import torch
from torch import Tensor


def capture_rng_state(*, cuda: str = "all") -> dict[str, Any]:
    """Every random stream a training step may draw from.

    ``cuda="all"`` takes every initialised CUDA device's state; ``"current"`` only this
    process's device (a distributed rank must not touch the other ranks' devices).
    """
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        here = [torch.cuda.current_device()]
        devices = range(torch.cuda.device_count()) if cuda == "all" else here
        state["cuda"] = {i: torch.cuda.get_rng_state(i) for i in devices}
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = (kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached)
    return state


def _cuda_items(cuda: Any) -> list[tuple[int, Any]]:
    # Checkpoints written before this module hold a list (one state per device).
    return list(enumerate(cuda)) if isinstance(cuda, (list, tuple)) else list(cuda.items())


def check_rng_state(state: Any) -> None:
    """Raise ValueError unless ``state`` is one :func:`capture_rng_state` gives (none is set)."""
    if not isinstance(state, dict):
        raise ValueError(f"expected a dict, got {type(state).__name__}")
    if not (isinstance(state.get("torch"), Tensor) and state["torch"].dtype == torch.uint8):
        raise ValueError("the PyTorch state is not a uint8 tensor")
    python = state.get("python")
    if not (
        isinstance(python, (tuple, list))
        and len(python) == 3
        and isinstance(python[1], (tuple, list))
        and all(isinstance(x, int) for x in python[1])
    ):
        raise ValueError("the Python random state is malformed")
    cuda = state.get("cuda", {})
    if not (
        isinstance(cuda, (list, tuple, dict))
        and all(isinstance(i, int) and isinstance(t, Tensor) for i, t in _cuda_items(cuda))
    ):
        raise ValueError("the CUDA states are malformed")
    numpy_state = state.get("numpy")
    if numpy_state is not None and not (
        isinstance(numpy_state, (tuple, list))
        and len(numpy_state) == 5
        and isinstance(numpy_state[1], Tensor)
    ):
        raise ValueError("the NumPy state is malformed")


def set_rng_state(state: dict[str, Any]) -> None:
    """Set every generator ``state`` holds (checked first)."""
    check_rng_state(state)
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if torch.cuda.is_available():
        for i, value in _cuda_items(state.get("cuda", {})):
            if i < torch.cuda.device_count():
                torch.cuda.set_rng_state(value, i)
    if "numpy" in state:
        try:
            import numpy as np
        except ImportError:
            return
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def _encode(t: Tensor) -> dict[str, str]:
    return {"dtype": str(t.dtype).removeprefix("torch."), "base64": _b64(t)}


def _b64(t: Tensor) -> str:
    return base64.b64encode(t.cpu().contiguous().numpy().tobytes()).decode("ascii")


def _decode(obj: dict[str, str]) -> Tensor:
    data = bytearray(base64.b64decode(obj["base64"]))
    return torch.frombuffer(data, dtype=getattr(torch, obj["dtype"])).clone()


def rng_state_to_json(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as plain JSON values (tensors as base64 text), for a ``config.json``."""
    out: dict[str, Any] = {"torch": _encode(state["torch"]), "python": state["python"]}
    if "cuda" in state:
        out["cuda"] = {str(i): _encode(t) for i, t in _cuda_items(state["cuda"])}
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        out["numpy"] = [kind, _encode(keys), pos, has_gauss, cached]
    return out


def rng_state_from_json(obj: Any) -> dict[str, Any]:
    """The inverse of :func:`rng_state_to_json`; raises ValueError on anything else."""
    try:
        state: dict[str, Any] = {"torch": _decode(obj["torch"]), "python": obj["python"]}
        version, internal, gauss = obj["python"]
        state["python"] = (version, tuple(internal), gauss)
        if "cuda" in obj:
            state["cuda"] = {int(i): _decode(t) for i, t in obj["cuda"].items()}
        if "numpy" in obj:
            kind, keys, pos, has_gauss, cached = obj["numpy"]
            state["numpy"] = (kind, _decode(keys), pos, has_gauss, cached)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"not a stored random number generator state: {e!r}") from e
    check_rng_state(state)
    return state
