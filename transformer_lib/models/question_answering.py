"""Extractive question answering: point at the answer inside the text (chapter 8).

The question and the context go into BERT as one pair, ``[CLS] question [SEP] context [SEP]``
(Devlin et al., 2019). A linear layer turns every hidden state into two numbers, a *start* and
an *end* logit; the answer is the span of context tokens ``i..j`` with the highest
``start[i] + end[j]``. A question the context does not answer points at ``[CLS]`` (position 0)
for both, as in SQuAD 2.0 (Rajpurkar et al., 2018): at inference the model answers only if its
best span scores higher than ``start[0] + end[0]``.

* :class:`BERTForQuestionAnswering`: the span head on :class:`~transformer_lib.BERT`,
  laid out as Hugging Face's ``BertForQuestionAnswering`` (and loadable from it);
* :func:`answer_questions`: questions in, answer strings out (characters of the context),
  built on :func:`encode_qa` (``data/qa_encoding.py``: tokenize the pairs, find the answer's
  tokens from its characters) and :func:`best_spans` (``generation/spans.py``: logits -> the
  best span or "no answer"), importable from here too;
* :func:`qa_exact_match`, :func:`qa_f1`, :func:`squad_scores`: the SQuAD metrics, defined in
  ``evaluation/squad.py`` and importable from here too.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.qa_encoding import QAEncoding, encode_qa
from ..evaluation.squad import normalize_answer, qa_exact_match, qa_f1, squad_scores
from ..generation.spans import QASpans, best_spans
from ..utils._checks import check_device, is_int
from .bert.config import BERTConfig
from .bert.conversion import (
    config_from_huggingface,
    head_state,
    load_state,
    read_huggingface,
    rename_keys,
)
from .bert.model import BERT, init_weights
from .pretrained import PretrainedMixin

__all__ = [
    "BERTForQuestionAnswering",
    "QAOutput",
    "QAEncoding",
    "QASpans",
    "encode_qa",
    "best_spans",
    "answer_questions",
    "normalize_answer",
    "qa_exact_match",
    "qa_f1",
    "squad_scores",
]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class QAOutput(NamedTuple):
    """``start_logits`` and ``end_logits`` ``(B, T)``, and ``loss`` when positions were given."""

    start_logits: Tensor
    end_logits: Tensor
    loss: Tensor | None = None


def _check_positions(
    name: str, positions: object, batch: int, length: int, device: torch.device
) -> None:
    if not isinstance(positions, Tensor):
        raise TypeError(
            f"{name} must be a tensor of shape (B,), but got {type(positions).__name__}"
        )
    check_device(name, positions, device, "input_ids is")
    if (
        positions.dtype.is_floating_point
        or positions.dtype.is_complex
        or positions.dtype == torch.bool
    ):
        raise TypeError(
            f"{name} must hold integer token positions, but has dtype {positions.dtype}"
        )
    if positions.shape != (batch,):
        raise ValueError(
            f"{name} must have shape (B,) = ({batch},), but has shape {tuple(positions.shape)}"
        )
    if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= length):
        raise ValueError(
            f"{name} must lie in [0, T={length}) (0 = [CLS] = no answer), but range from "
            f"{int(positions.min())} to {int(positions.max())}"
        )


class BERTForQuestionAnswering(PretrainedMixin, nn.Module):
    """BERT with a span head: ``qa_outputs = nn.Linear(d_model, 2)`` over every hidden state.

    Args:
        config: a :class:`~transformer_lib.BERTConfig`.

    Attributes: ``bert`` (a :class:`~transformer_lib.BERT` without pooler, as in Hugging
    Face's ``BertForQuestionAnswering``) and ``qa_outputs``. :meth:`from_encoder` puts a
    pre-trained encoder under a new head; :meth:`from_huggingface` loads a Hugging Face
    ``BertForQuestionAnswering``.
    """

    config_class = BERTConfig

    def __init__(self, config: BERTConfig) -> None:
        super().__init__()
        if not isinstance(config, BERTConfig):
            raise TypeError(f"config must be a BERTConfig, but got {type(config).__name__}")
        self.config = config
        self.bert = BERT(config, add_pooler=False)
        self.qa_outputs = nn.Linear(config.d_model, 2)
        init_weights(self.qa_outputs)

    @classmethod
    def from_encoder(cls, encoder: BERT) -> BERTForQuestionAnswering:
        """A QA model with a copy of ``encoder``'s weights and a new (random) span head.

        The encoder is deep-copied (fine-tuning leaves it untouched) and its pooler, which
        the span head does not use, is dropped.
        """
        if not isinstance(encoder, BERT):
            raise TypeError(f"encoder must be a BERT, but got {type(encoder).__name__}")
        model = cls(encoder.config)
        model.bert = copy.deepcopy(encoder)
        model.bert.pooler = None
        p = next(encoder.parameters())
        return model.to(device=p.device, dtype=p.dtype)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        start_positions: Tensor | None = None,
        end_positions: Tensor | None = None,
    ) -> QAOutput:
        """Score every token as the start and as the end of the answer.

        Args:
            input_ids, attention_mask, token_type_ids: ``(B, T)``, as in
                :meth:`~transformer_lib.BERT.forward`.
            start_positions, end_positions: ``(B,)`` token indices of the answer's first and
                last token, ``0`` (``[CLS]``) for a question without answer. Give both or
                neither.

        Returns:
            :class:`QAOutput`: ``start_logits`` and ``end_logits`` ``(B, T)``, and ``loss``,
            the mean of the start and the end cross-entropies over the ``T`` positions
            (``None`` without positions).

        Raises:
            ValueError, TypeError: on badly shaped or out-of-range inputs or positions.
        """
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        start_logits, end_logits = self.qa_outputs(hidden).unbind(dim=-1)  # (B, T) each
        if (start_positions is None) != (end_positions is None):
            raise ValueError("give both start_positions and end_positions, or neither")
        loss = None
        if start_positions is not None:
            B, T = input_ids.shape
            _check_positions("start_positions", start_positions, B, T, input_ids.device)
            _check_positions("end_positions", end_positions, B, T, input_ids.device)
            loss = (
                F.cross_entropy(start_logits.float(), start_positions)
                + F.cross_entropy(end_logits.float(), end_positions)
            ) / 2
        return QAOutput(start_logits, end_logits, loss)

    @classmethod
    def from_huggingface(
        cls, model_or_path: Any, *, use_transformers: bool | None = None
    ) -> BERTForQuestionAnswering:
        """Load a Hugging Face ``BertForQuestionAnswering`` (instance or directory), in eval mode.

        ``use_transformers`` as in :meth:`~transformer_lib.BERT.from_huggingface`.
        """
        hf_config, state = read_huggingface(
            model_or_path, use_transformers, "AutoModelForQuestionAnswering"
        )
        head = {k: v for k, v in state.items() if k.startswith("qa_outputs.")}
        encoder = rename_keys({k: v for k, v in state.items() if k not in head})
        encoder = {k: v for k, v in encoder.items() if not k.startswith("pooler.")}
        model = cls(config_from_huggingface(hf_config))
        load_state(model, {**head_state(encoder), **head})
        return model.eval()


@torch.no_grad()
def answer_questions(
    model: BERTForQuestionAnswering,
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    batch_size: int = 64,
    max_answer_len: int = 30,
    null_threshold: float = 0.0,
) -> list[str]:
    """The model's answer to each question: a substring of its context, or ``""``.

    The span's tokens are mapped back to characters with the tokenizer's offsets, so the
    answer keeps the context's spelling and case even if the tokenizer lower-cases.
    ``max_answer_len`` and ``null_threshold`` as in :func:`best_spans`. Runs the model in
    eval mode on its own device.
    """
    if not isinstance(model, BERTForQuestionAnswering):
        raise TypeError(f"model must be a BERTForQuestionAnswering, but got {type(model).__name__}")
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, but got {batch_size!r}")
    model.eval()
    device = next(model.parameters()).device
    answers = []
    for k in range(0, len(questions), batch_size):
        qs, cs = questions[k : k + batch_size], contexts[k : k + batch_size]
        enc = encode_qa(tokenizer, qs, cs).to(device)
        out = model(enc.input_ids, enc.attention_mask, enc.token_type_ids)
        spans = best_spans(
            out.start_logits, out.end_logits, enc.context_mask,
            max_answer_len=max_answer_len, null_threshold=null_threshold,
        )  # fmt: skip
        for b, (i, j) in enumerate(zip(spans.start.tolist(), spans.end.tolist(), strict=True)):
            answers.append("" if i == 0 else cs[b][enc.offsets[b][i][0] : enc.offsets[b][j][1]])
    return answers
