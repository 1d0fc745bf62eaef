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

from ..utils.checkpoint import CONFIG_FILE, load_checkpoint, read_meta, save_checkpoint

__all__ = ["PretrainedMixin"]

M = TypeVar("M", bound="PretrainedMixin")


class PretrainedMixin:
    """Adds ``save_pretrained(path)`` and ``cls.from_pretrained(path)`` to an ``nn.Module``.

    The class sets ``config_class`` (a dataclass) and keeps its config in ``self.config``.
    """

    config_class: ClassVar[type]
    config: Any

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the weights (safetensors) and the config (JSON) to the directory ``path``."""
        assert isinstance(self, nn.Module)
        config = {"class": type(self).__name__, **dataclasses.asdict(self.config)}
        return save_checkpoint(path, self, config=config)

    @classmethod
    def from_pretrained(
        cls: type[M], path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
    ) -> M:
        """Build the model from ``path``'s config and load the weights ``save_pretrained`` wrote.

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
        return model.eval()  # type: ignore[attr-defined]
