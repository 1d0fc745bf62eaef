"""LoRA: fine-tune a large model by training a small low-rank update of a few weights (ch. 6).

Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models": keep a pretrained
weight ``W`` (``out x in``) frozen and learn ``W + (alpha / r) * B @ A`` instead, with ``A``
``(r x in)`` and ``B`` ``(out x r)`` for a small rank ``r``. The update has ``r * (in + out)``
parameters instead of ``in * out``; ``B`` starts at zero, so training starts from exactly the
pretrained model; and after training ``B @ A`` folds into ``W`` (:meth:`LoRALinear.merge`), so
the fine-tuned model runs as fast as the original.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..utils._checks import check_device, is_int, is_number
from ..utils._state_dict import summarise_keys
from ..utils.checkpoint import replace_directory

__all__ = ["LoRALinear", "add_lora", "lora_parameters", "merge_lora", "save_lora", "load_lora"]

ADAPTER_FILE = "adapter.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update (Hu et al. 2021).

    ``y = base(x) + (alpha / r) * dropout(x) @ A^T @ B^T``

    Args:
        base: the linear layer to adapt; its parameters are frozen (``requires_grad=False``).
        r: the rank of the update, a positive int.
        alpha: the update is scaled by ``alpha / r``, so that changing ``r`` does not change
            the size of the update at initialisation and the learning rate need not be
            retuned. ``None`` means ``alpha = r`` (scale 1). Hu et al. set ``alpha`` to the
            first ``r`` they tried and kept it.
        dropout: dropout on the input of the low-rank branch (training mode only).

    Shapes: ``(..., in_features) -> (..., out_features)``. Parameters: ``lora_A``
    ``(r, in_features)`` (random Gaussian) and ``lora_B`` ``(out_features, r)`` (zeros).

    Raises:
        TypeError: ``base`` not an ``nn.Linear``; in ``forward``, an ``x`` that is not a
            floating-point tensor.
        ValueError: ``r`` or ``alpha`` not positive, ``dropout`` outside [0, 1); in
            ``forward``, an ``x`` whose last dimension is not ``in_features`` or that lies on
            another device.
    """

    def __init__(
        self, base: nn.Linear, r: int, alpha: float | None = None, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, but got {type(base).__name__}")
        if not is_int(r) or r < 1:
            raise ValueError(f"r must be a positive int (the rank of the update), but got {r!r}")
        alpha = float(r) if alpha is None else alpha
        if not is_number(alpha) or not alpha > 0:
            raise ValueError(f"alpha must be a positive number, but got {alpha!r}")
        if not is_number(dropout):
            raise ValueError(f"dropout must be a number in [0, 1), but got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), but got {dropout}")
        self.base = base.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, float(alpha), alpha / r
        w = base.weight
        # A random and B zero: B @ A = 0, so the adapted layer starts equal to the base layer,
        # while A's randomness lets B's gradient be non-zero from the first step.
        self.lora_A = nn.Parameter(
            torch.randn(r, base.in_features, device=w.device, dtype=w.dtype)
            / math.sqrt(base.in_features)
        )
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )
        self.dropout = nn.Dropout(dropout)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}"

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_features) -> (..., out_features)``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a tensor, but got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            last = x.shape[-1] if x.ndim else "none (a scalar)"
            raise ValueError(f"x has last dimension {last}, but in_features is {self.in_features}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"x must be a floating-point tensor, but has dtype {x.dtype}")
        check_device("x", x, self.lora_A.device)
        # Two thin matrix products (in -> r -> out) instead of forming the (out x in) B @ A.
        update = (self.dropout(x) @ self.lora_A.T) @ self.lora_B.T
        return self.base(x) + self.scaling * update

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function, ``W + (alpha / r) * B @ A``.

        The new layer has its own copy of the weights (this module is left unchanged); its
        parameters are frozen, like the base's.
        """
        w = self.base.weight
        merged = nn.Linear(
            self.in_features, self.out_features, bias=self.base.bias is not None,
            device=w.device, dtype=w.dtype,
        )  # fmt: skip
        merged.weight.copy_(w + self.scaling * (self.lora_B @ self.lora_A))
        if self.base.bias is not None:
            merged.bias.copy_(self.base.bias)
        return merged.requires_grad_(False)


def _check_module(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")


def _matches(name: str, targets: tuple[str, ...]) -> bool:
    """``"blocks.0.attn.q_proj"`` matches the target ``"q_proj"`` or ``"attn.q_proj"``."""
    return any(name == t or name.endswith("." + t) for t in targets)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def add_lora(
    model: nn.Module,
    r: int,
    alpha: float | None = None,
    *,
    target_modules: Iterable[str] | str = ("q_proj", "v_proj"),
    dropout: float = 0.0,
    trainable: Iterable[str] | str = (),
) -> nn.Module:
    """Wrap, in place, every ``nn.Linear`` named in ``target_modules`` in a :class:`LoRALinear`.

    Every other parameter of ``model`` is frozen, so an optimiser over
    ``lora_parameters(model)`` (or over the parameters that require a gradient) trains the
    low-rank updates only. The default targets, the query and value projections of every
    attention layer, are the choice of Hu et al. (2021).

    Args:
        model: any module, e.g. a :class:`GPT`.
        r, alpha, dropout: as in :class:`LoRALinear`.
        target_modules: module names, matched against the end of each dotted name
            (``"q_proj"`` matches ``"blocks.0.attn.q_proj"``).
        trainable: modules that stay fully trainable, matched the same way: a new
            classification head, for example (``trainable="classifier"``). Train them with
            the LoRA parameters: ``[p for p in model.parameters() if p.requires_grad]``.

    Returns:
        ``model`` itself, now holding :class:`LoRALinear` modules.
    """
    _check_module(model)
    targets = (target_modules,) if isinstance(target_modules, str) else tuple(target_modules)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"target_modules must be non-empty names, but got {target_modules!r}")
    keep = (trainable,) if isinstance(trainable, str) else tuple(trainable)
    if not all(isinstance(k, str) and k for k in keep):
        raise ValueError(f"trainable must be module names, but got {trainable!r}")
    kept = [module for name, module in model.named_modules() if keep and _matches(name, keep)]
    if keep and not kept:
        raise ValueError(f"trainable={keep} match no module of the model")
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and _matches(name, targets)
    ]
    wrapped = [
        name
        for name, module in model.named_modules()
        if isinstance(module, LoRALinear) and _matches(name, targets)
    ]
    if wrapped and not names:
        raise ValueError(
            f"target_modules={targets} are already wrapped in LoRALinear ({wrapped[0]}, ...): "
            "add_lora was called on this model before; call merge_lora(model) first to wrap "
            "the merged layers again"
        )
    if not names:
        linears = sorted(
            {n.rpartition(".")[2] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
        )
        raise ValueError(
            f"target_modules={targets} match no nn.Linear in the model; "
            f"its nn.Linear layers are named {linears}"
        )
    # Build every wrapper before touching the model, so a bad r leaves the model as it was.
    wrappers = {name: LoRALinear(model.get_submodule(name), r, alpha, dropout) for name in names}
    model.requires_grad_(False)  # the wrappers are not in the model yet: their A, B stay trainable
    for module in kept:
        module.requires_grad_(True)
    for name, wrapper in wrappers.items():
        _replace(model, name, wrapper)
    return model


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The ``lora_A`` and ``lora_B`` parameters of every :class:`LoRALinear` in ``model``."""
    _check_module(model)
    return [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.lora_A, m.lora_B)]


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace, in place, every :class:`LoRALinear` by its merged ``nn.Linear``; return ``model``.

    The merged model computes the same function with no extra cost per token. (A bare
    :class:`LoRALinear` cannot be replaced in place: its merged layer is returned instead.)
    """
    _check_module(model)
    if isinstance(model, LoRALinear):
        return model.merge()
    names = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        _replace(model, name, model.get_submodule(name).merge())
    return model


def _trained(model: nn.Module) -> dict[str, Tensor]:
    """What fine-tuning with LoRA changes: the low-rank factors and any module kept trainable."""
    return {
        name: p.detach().to("cpu", copy=True).contiguous()
        for name, p in model.named_parameters()
        if p.requires_grad or name.endswith((".lora_A", ".lora_B"))
    }


def save_lora(model: nn.Module, path: str | os.PathLike) -> Path:
    """Save only what LoRA fine-tuning trained, to the directory ``path``, atomically.

    That is every ``lora_A`` and ``lora_B`` and every parameter that still requires a
    gradient (a head kept ``trainable``): for MiniLM with ``r=8`` on the query and value
    projections, tens of thousands of numbers instead of the 22 million of the whole model.
    ``adapter_config.json`` records which layers are wrapped, with their ``r``, ``alpha``
    and dropout, so that :func:`load_lora` can wrap a fresh copy of the base model the same
    way. Other files in ``path`` are left as they are.
    """
    from safetensors.torch import save as safetensors_save

    _check_module(model)
    wrapped = {
        name: {"r": m.r, "alpha": m.alpha, "dropout": m.dropout.p}
        for name, m in model.named_modules()
        if isinstance(m, LoRALinear)
    }
    if not wrapped:
        raise ValueError("model holds no LoRALinear layers: call add_lora on it first")
    tensors = _trained(model)
    data = safetensors_save(tensors, metadata={"format": "pt"})
    config = {
        "format": "transformer_lib LoRA adapter",
        "version": 1,
        "wrapped": wrapped,
        "trainable": sorted(k for k in tensors if not k.endswith((".lora_A", ".lora_B"))),
        "sha256": hashlib.sha256(data).hexdigest(),
    }

    def write(tmp: Path) -> None:
        (tmp / ADAPTER_FILE).write_bytes(data)
        (tmp / ADAPTER_CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")

    return replace_directory(Path(path), write, ours=(ADAPTER_FILE, ADAPTER_CONFIG_FILE))


def load_lora(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load an adapter that :func:`save_lora` wrote into ``model``, in place; return it.

    ``model`` is the base model the adapter was trained from (for example a fresh
    ``load_minilm()`` with the same new head): the layers the adapter names are wrapped in
    :class:`LoRALinear` first, unless they already are, and the parameters are then frozen
    as :func:`add_lora` leaves them. Everything is checked before the model is changed.
    """
    from safetensors.torch import load as safetensors_load

    _check_module(model)
    path = Path(path)
    config_file, weights_file = path / ADAPTER_CONFIG_FILE, path / ADAPTER_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise FileNotFoundError(f"no LoRA adapter at {path} (save one with save_lora)")
    try:
        config: Any = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{config_file} is not valid JSON: {e}") from None
    data = weights_file.read_bytes()
    if (
        not isinstance(config, dict)
        or config.get("format") != "transformer_lib LoRA adapter"
        or not isinstance(config.get("wrapped"), dict)
    ):
        raise ValueError(f"{config_file} does not describe a LoRA adapter")
    if hashlib.sha256(data).hexdigest() != config.get("sha256"):
        raise ValueError(f"{weights_file} is damaged: its SHA-256 differs from the one saved")
    tensors = safetensors_load(data)
    # The shapes of the model as it will be, worked out without touching it: a layer to wrap
    # moves its weight and bias under ".base" and gains its two factors.
    expected = {k: tuple(v.shape) for k, v in model.named_parameters()}
    to_wrap = {}
    for name, spec in config["wrapped"].items():
        try:
            module = model.get_submodule(name)
        except AttributeError:
            message = f"the adapter wraps {name!r}, which this model does not have"
            raise ValueError(message) from None
        if isinstance(module, nn.Linear):
            to_wrap[name] = spec
            for k in ("weight", "bias"):
                if f"{name}.{k}" in expected:
                    expected[f"{name}.base.{k}"] = expected.pop(f"{name}.{k}")
            expected[f"{name}.lora_A"] = (spec["r"], module.in_features)
            expected[f"{name}.lora_B"] = (module.out_features, spec["r"])
        elif not (isinstance(module, LoRALinear) and module.r == spec["r"]):
            raise ValueError(f"the adapter's {name!r} (r={spec['r']}) does not fit {module}")
    unknown = sorted(k for k in tensors if k not in expected)
    shapes = sorted(
        f"{k} {tuple(v.shape)} vs {expected[k]}"
        for k, v in tensors.items()
        if k in expected and tuple(v.shape) != expected[k]
    )
    problems = [f"{len(unknown)} unknown ({summarise_keys(unknown)})"] if unknown else []
    if shapes:
        problems.append(
            f"{len(shapes)} of another shape (saved vs model: {summarise_keys(shapes)})"
        )
    if problems:
        raise ValueError(
            f"the adapter {weights_file} does not fit this {type(model).__name__}: "
            + "; ".join(problems)
        )
    for name, spec in to_wrap.items():
        wrapper = LoRALinear(model.get_submodule(name), spec["r"], spec["alpha"], spec["dropout"])
        _replace(model, name, wrapper)
    model.requires_grad_(False)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)
            params[name].requires_grad_(True)
    return model
