"""The one way weights are checked and loaded into a model (private).

Used by :func:`load_checkpoint`, ``from_pretrained``, the Hugging Face converters and the
GGUF loader. Each builds a state dict in this library's names, then calls
:func:`load_weights`: every mismatch is found before anything is copied, and the error
summarises it (how many keys, the first few, which shapes differ) in a few lines instead of
listing hundreds of keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside ``torch.compile`` and ``DistributedDataParallel`` wrappers.

    Checkpoints hold the plain model's state dict, so that they load into any model of the
    same architecture, wrapped or not (a wrapper's keys carry an ``_orig_mod.`` or
    ``module.`` prefix). The wrappers share the plain model's parameters.
    """
    while True:
        if isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod  # torch.compile's OptimizedModule
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


_SHOWN = 3  # keys named in an error before "and N more"


def summarise_keys(keys: list[str]) -> str:
    """The first few of ``keys`` and how many more: an error stays short."""
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def _tied(model: nn.Module) -> dict[str, set[str]]:
    """Each state-dict name -> the other names of the same tensor (tied weights)."""
    names: dict[int, set[str]] = {}
    for name, value in model.state_dict(keep_vars=True).items():
        names.setdefault(id(value), set()).add(name)
    return {n: group - {n} for group in names.values() for n in group}


def weight_problems(model: nn.Module, state: Mapping[str, Tensor]) -> list[str]:
    """What stops ``state`` from loading into ``model``: short phrases, empty if nothing.

    A key the model holds twice (tied weights, e.g. an output head sharing the embedding)
    may be given under either name.
    """
    expected = model.state_dict()
    tied = _tied(model)
    missing = sorted(k for k in set(expected) - set(state) if not tied.get(k, set()) & set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({summarise_keys(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({summarise_keys(unexpected)})")
    if shapes:
        problems.append(
            f"{len(shapes)} of another shape (given vs model: {summarise_keys(shapes)})"
        )
    if any(".lora_" in k for k in unexpected):
        problems.append("the weights hold LoRA adapters: call add_lora on the model first")
    elif any(".lora_" in k for k in missing):
        problems.append("the model holds LoRA adapters: call merge_lora on it first")
    return problems


def config_difference(saved: Any, model: nn.Module) -> str:
    """``"d_model 128 vs 64, num_layers 4 vs 2"`` for the fields where ``saved`` (a config
    dict or dataclass) differs from ``model.config``; empty when either is unknown."""
    config = getattr(model, "config", None)
    if hasattr(saved, "__dataclass_fields__"):
        saved = {k: getattr(saved, k) for k in saved.__dataclass_fields__}
    if not isinstance(saved, dict) or not hasattr(config, "__dataclass_fields__"):
        return ""
    diffs = [
        f"{k} {saved[k]!r} vs {getattr(config, k)!r}"
        for k in config.__dataclass_fields__
        if k in saved and saved[k] != getattr(config, k)
    ]
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "")


def check_weights(
    model: nn.Module, state: Mapping[str, Tensor], source: str, saved_config: Any = None
) -> None:
    """Raise a short ValueError naming ``source`` unless ``state`` fits ``model``."""
    problems = weight_problems(model, state)
    if not problems:
        return
    diff = config_difference(saved_config, model)
    hint = f"; config saved vs model: {diff}" if diff else ""
    raise ValueError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems) + hint)


@torch.no_grad()
def load_weights(
    model: nn.Module, state: Mapping[str, Tensor], source: str, saved_config: Any = None
) -> None:
    """Check, then copy ``state`` into ``model``'s tensors (device and dtype are kept)."""
    check_weights(model, state, source, saved_config)
    model.load_state_dict(dict(state), strict=False)  # strict: done above, tied-aware


def rename(
    state: Mapping[str, Tensor],
    mapping: Mapping[str, str],
    source: str,
    *,
    ignore: Iterable[str] = (),
) -> dict[str, Tensor]:
    """``{ours: state[theirs]}`` for each pair of ``mapping`` (ours -> theirs).

    Every key of ``state`` must be used, except those ending in one of ``ignore`` (buffers
    another library recomputes, a tied output head): a key left over would be a part the
    converter does not understand.
    """
    lacking = sorted(theirs for theirs in mapping.values() if theirs not in state)
    if lacking:
        raise ValueError(
            f"the {source} weights lack {len(lacking)} keys ({summarise_keys(lacking)})"
        )
    used = set(mapping.values())
    ignore = tuple(ignore)
    left = sorted(k for k in set(state) - used if not (ignore and k.endswith(ignore)))
    if left:
        raise ValueError(
            f"{len(left)} {source} weights this converter does not use ({summarise_keys(left)})"
        )
    return {ours: state[theirs] for ours, theirs in mapping.items()}
