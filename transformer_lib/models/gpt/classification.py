"""A GPT with a classifier on top: one label per sequence (chapter 6)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.masking import IGNORE_INDEX
from ...modules.pooling import mean_pool
from ...utils._checks import check_labels, is_int
from ..bert.model import BERTOutput
from .config import GPTConfig
from .model import GPT

__all__ = ["GPTForSequenceClassification", "GPT_POOLINGS"]


GPT_POOLINGS = ("last", "mean")


class GPTForSequenceClassification(nn.Module):
    """A GPT with a linear classifier on one vector per sequence.

    ``pooling="last"`` reads the hidden state of each sequence's last real token, the only
    position that has seen the whole sequence under the causal mask (Radford et al. 2018;
    Hugging Face's ``GPT2ForSequenceClassification`` does the same). ``"mean"`` averages the
    real tokens' hidden states (:func:`mean_pool`). Padding must come after the real tokens
    (right padding), so that it never enters a real token's causal context.

    Attributes: ``gpt`` (a :class:`GPT`, whose ``lm_head`` is unused here) and ``classifier``
    (``nn.Linear(d_model, num_labels)``). :meth:`from_decoder` puts a pre-trained GPT under a
    new classifier.
    """

    def __init__(self, config: GPTConfig, num_labels: int, *, pooling: str = "last") -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, but got {type(config).__name__}")
        if not is_int(num_labels) or num_labels < 2:
            raise ValueError(f"num_labels must be an int >= 2, but got {num_labels!r}")
        if pooling not in GPT_POOLINGS:
            raise ValueError(f"pooling must be one of {GPT_POOLINGS}, but got {pooling!r}")
        self.config, self.num_labels, self.pooling = config, num_labels, pooling
        self.gpt = GPT(config)
        self.classifier = nn.Linear(config.d_model, num_labels)
        nn.init.normal_(self.classifier.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    @classmethod
    def from_decoder(
        cls, gpt: GPT, num_labels: int, *, pooling: str = "last", copy_decoder: bool = True
    ) -> GPTForSequenceClassification:
        """A classifier whose body is ``gpt``'s weights and whose head is new (random).

        ``copy_decoder=True`` (default) deep-copies ``gpt``, so fine-tuning leaves the
        pre-trained model untouched and can start again from it.
        """
        if not isinstance(gpt, GPT):
            raise TypeError(f"gpt must be a GPT, but got {type(gpt).__name__}")
        model = cls(gpt.config, num_labels, pooling=pooling)
        model.gpt = copy.deepcopy(gpt) if copy_decoder else gpt
        p = next(gpt.parameters())
        return model.to(device=p.device, dtype=p.dtype)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> BERTOutput:
        """Classify each sequence.

        Args:
            input_ids: ``(B, T)`` token ids, right-padded.
            attention_mask: ``(B, T)``, 1 / ``True`` for real tokens, 0 for padding; ``None``
                means no padding.
            labels: ``(B,)`` class ids in ``[0, num_labels)`` (``-100`` is ignored).

        Returns:
            a :class:`BERTOutput` with ``logits`` ``(B, num_labels)`` and ``loss``
            (cross-entropy; ``None`` without labels).

        Raises:
            ValueError: ``attention_mask`` not ``(B, T)``, a row without real tokens, or real
                tokens after padding (left padding); bad ``labels``.
        """
        hidden = self.gpt(input_ids, return_hidden=True)  # (B, T, d_model); checks input_ids
        B, T = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones(B, T, dtype=torch.long, device=input_ids.device)
        elif not isinstance(attention_mask, Tensor) or attention_mask.shape != (B, T):
            got = (
                tuple(attention_mask.shape)
                if isinstance(attention_mask, Tensor)
                else type(attention_mask).__name__
            )
            raise ValueError(f"attention_mask must have shape (B, T) = {(B, T)}, but got {got}")
        mask = attention_mask.to(torch.long)
        lengths = mask.sum(dim=1)  # (B,)
        if not torch.compiler.is_compiling():
            if int(lengths.min()) == 0:
                raise ValueError("attention_mask has a row without real tokens")
            # right padding: the mask is 1...1 0...0, i.e. it never rises
            if bool((mask[:, 1:] > mask[:, :-1]).any()):
                raise ValueError(
                    "attention_mask must be right-padded (1s then 0s): a causal model's real "
                    "tokens would otherwise attend to padding"
                )
        if self.pooling == "last":
            pooled = hidden[torch.arange(B, device=hidden.device), lengths - 1]  # (B, d_model)
        else:
            pooled = mean_pool(hidden, mask)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            check_labels(labels, input_ids.shape[:1], self.num_labels, "(B,)", IGNORE_INDEX)
            loss = F.cross_entropy(logits.float(), labels)
        return BERTOutput(logits, loss)
