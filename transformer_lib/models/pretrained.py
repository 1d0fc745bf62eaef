"""``save_pretrained`` / ``from_pretrained`` for the library's configurable models.

A saved model is a checkpoint directory (see :mod:`transformer_lib.utils.checkpoint`): the
weights in ``model.safetensors`` and the model's config as JSON in ``config.json``, written
atomically. A model class opts in by inheriting :class:`PretrainedMixin` and naming its config
dataclass in ``config_class``; its constructor must take that config as its only required argument.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from ..data.tokenizer_files import load_tokenizer
from ..utils.checkpoint import CONFIG_FILE, load_checkpoint, read_meta, save_checkpoint

__all__ = ["PretrainedMixin", "describe"]

M = TypeVar("M", bound="PretrainedMixin")


class PretrainedMixin:
    """Adds ``save_pretrained(path)`` and ``cls.from_pretrained(path)`` to an ``nn.Module``.

    The class sets ``config_class`` (a dataclass) and keeps its config in ``self.config``.
    """

    config_class: ClassVar[type]
    config: Any

    def save_pretrained(self, path: str | os.PathLike, *, tokenizer: Any = None) -> Path:
        """Write the weights (safetensors) and the config (JSON) to the directory ``path``,
        atomically; with ``tokenizer``, also ``tokenizer.json`` (read it back with
        ``from_pretrained(path, with_tokenizer=True)`` or :func:`~transformer_lib.load_tokenizer`).

        Other files in ``path`` are left as they are.
        """
        assert isinstance(self, nn.Module)
        return save_checkpoint(path, self, config=describe(self), tokenizer=tokenizer)

    @classmethod
    def from_pretrained(
        cls: type[M],
        path: str | os.PathLike,
        *,
        map_location: str | torch.device = "cpu",
        with_tokenizer: bool = False,
    ) -> Any:
        """Build the model from ``path``'s config and load the weights ``save_pretrained`` wrote.

        ``path`` may also be a checkpoint that :func:`~transformer_lib.train` wrote while
        training this class of model: it stores the model's config the same way. With
        ``with_tokenizer=True``, returns ``(model, tokenizer)``.

        The model comes back in evaluation mode (dropout off); call ``.train()`` before
        training it with a loop of your own.

        Raises ``ValueError`` if the directory holds another class's model or a config this
        class does not understand, and ``FileNotFoundError`` if it holds no saved model.
        """
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no saved model at {path}: {CONFIG_FILE} is missing")
        # Read the config first to build a model of the right size, then load into it.
        # read_meta checks the file (valid JSON, a known format) and names it in its errors.
        meta = read_meta(path)
        saved = meta.get("config") or {}
        if not isinstance(saved, dict):
            raise ValueError(f"{path / CONFIG_FILE}: 'config' must be a JSON object, got {saved!r}")
        saved = dict(saved)
        kind = saved.pop("class", None)
        if kind is None:
            raise ValueError(
                f"{path} holds weights without a model config (written by save_checkpoint "
                f"without one): build the {cls.__name__} yourself and call "
                "tl.load_checkpoint(path, model)"
            )
        if kind != cls.__name__:
            raise ValueError(f"{path} holds a {kind} model, not a {cls.__name__}")
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(saved) - fields)
        if unknown:
            raise ValueError(
                f"{path}: config has fields {cls.config_class.__name__} lacks: {unknown}"
            )
        model = cls(cls.config_class(**saved))  # type: ignore[call-arg]
        load_checkpoint(path, model, map_location=map_location)  # type: ignore[arg-type]
        # Evaluation mode, as from_huggingface and load_minilm return models: a loaded model
        # is usually used first (tl.train switches it to training mode itself).
        model.eval()  # type: ignore[attr-defined]
        return (model, load_tokenizer(path)) if with_tokenizer else model


def describe(model: nn.Module) -> dict[str, Any] | None:
    """What ``from_pretrained`` needs to rebuild ``model``: its class name and config fields;
    ``None`` for a model without a dataclass config. Checkpoints store it as their config."""
    if not isinstance(model, PretrainedMixin) or not dataclasses.is_dataclass(model.config):
        return None
    return {"class": type(model).__name__, **dataclasses.asdict(model.config)}
