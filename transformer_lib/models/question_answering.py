"""Extractive question answering: point at the answer inside the text (chapter 8).

The question and the context go into BERT as one pair, ``[CLS] question [SEP] context [SEP]``
(Devlin et al., 2019). A linear layer turns every hidden state into two numbers, a *start* and
an *end* logit; the answer is the span of context tokens ``i..j`` with the highest
``start[i] + end[j]``. A question the context does not answer points at ``[CLS]`` (position 0)
for both, as in SQuAD 2.0 (Rajpurkar et al., 2018): at inference the model answers only if its
best span scores higher than ``start[0] + end[0]``.

* :class:`BERTForQuestionAnswering`: the span head on :class:`~transformer_lib.BERT`,
  laid out as Hugging Face's ``BertForQuestionAnswering`` (and loadable from it);
* :func:`encode_qa`: tokenize (question, context) pairs and find the answer's tokens from its
  characters; :func:`best_spans`: logits -> the best span or "no answer";
  :func:`answer_questions`: questions in, answer strings out (characters of the context);
* :func:`qa_exact_match`, :func:`qa_f1`, :func:`squad_scores`: the SQuAD metrics, defined in
  ``evaluation/squad.py`` and importable from here too.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..evaluation.squad import normalize_answer, qa_exact_match, qa_f1, squad_scores
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


# --------------------------------------------------------------------------------------------
# From text to tokens and back
# --------------------------------------------------------------------------------------------


@dataclass
class QAEncoding:
    """A batch of (question, context) pairs as tensors, with what is needed to map back.

    Attributes:
        input_ids, attention_mask, token_type_ids: ``(B, T)`` model inputs.
        context_mask: ``(B, T)`` bool, ``True`` at the context's tokens (where an answer may
            start and end).
        offsets: per pair, per token, the ``(start, end)`` characters of the token in the
            context (meaningful where ``context_mask`` is ``True``).
        start_positions, end_positions: ``(B,)`` the answer's first and last token, 0 for
            no answer (``None`` if no answers were given).
    """

    input_ids: Tensor
    attention_mask: Tensor
    token_type_ids: Tensor
    context_mask: Tensor
    offsets: list[list[tuple[int, int]]]
    start_positions: Tensor | None = None
    end_positions: Tensor | None = None

    def to(self, device: torch.device | str) -> QAEncoding:
        """The same batch with every tensor on ``device``."""
        moved = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in self.__dict__.items()}
        return QAEncoding(**moved)

    def __getitem__(self, index: slice | Tensor) -> QAEncoding:
        """A sub-batch: a slice or an index tensor of rows."""
        rows = range(len(self.offsets))[index] if isinstance(index, slice) else index.tolist()
        picked = {k: v[index] if isinstance(v, Tensor) else v for k, v in self.__dict__.items()}
        picked["offsets"] = [self.offsets[i] for i in rows]
        return QAEncoding(**picked)


def encode_qa(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    answer_starts: Sequence[int] | None = None,
    answer_texts: Sequence[str] | None = None,
) -> QAEncoding:
    """Tokenize (question, context) pairs as ``[CLS] question [SEP] context [SEP]``.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` (such as the one
            :func:`~transformer_lib.load_minilm` returns) whose encodings carry ``ids``,
            ``type_ids``, ``offsets`` and ``sequence_ids``.
        questions, contexts: ``B`` strings each.
        answer_starts: per pair, the answer's first character in the context, or ``-1`` for
            no answer (optional; with ``answer_texts``).
        answer_texts: per pair, the answer (``""`` for no answer).

    Returns:
        A :class:`QAEncoding`, padded to the longest pair. An answer whose characters were cut
        off by the tokenizer's truncation becomes "no answer" (position 0).

    Raises:
        ValueError, TypeError: on mismatched lengths or a character span outside its context.
    """
    for name, seq in (("questions", questions), ("contexts", contexts)):
        if isinstance(seq, str) or not all(isinstance(s, str) for s in seq):
            raise TypeError(f"{name} must be a list of strings, but got {type(seq).__name__}")
    if len(questions) != len(contexts) or not questions:
        raise ValueError(
            f"questions and contexts must be non-empty and of equal length, but have "
            f"{len(questions)} and {len(contexts)}"
        )
    if (answer_starts is None) != (answer_texts is None):
        raise ValueError("give both answer_starts and answer_texts, or neither")
    if answer_starts is not None:
        if len(answer_starts) != len(questions) or len(answer_texts) != len(questions):
            raise ValueError(
                f"answer_starts and answer_texts must have one entry per question "
                f"({len(questions)}), but have {len(answer_starts)} and {len(answer_texts)}"
            )
    encodings = tokenizer.encode_batch(list(zip(questions, contexts, strict=True)))
    T = max(len(e.ids) for e in encodings)
    B = len(encodings)
    ids = torch.zeros(B, T, dtype=torch.long)  # padding: id 0 ([PAD]), mask 0, type 0
    mask = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    context = torch.zeros(B, T, dtype=torch.bool)
    offsets = []
    for b, e in enumerate(encodings):
        n = len(e.ids)
        ids[b, :n] = torch.tensor(e.ids)
        mask[b, :n] = torch.tensor(e.attention_mask)
        types[b, :n] = torch.tensor(e.type_ids)
        seq, real = e.sequence_ids, e.attention_mask
        in_context = [s == 1 and m == 1 for s, m in zip(seq, real, strict=True)]
        context[b, :n] = torch.tensor(in_context)
        offsets.append([tuple(o) for o in e.offsets] + [(0, 0)] * (T - n))
    out = QAEncoding(ids, mask, types, context, offsets)
    if answer_starts is None:
        return out
    starts, ends = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long)
    for b, (first, text) in enumerate(zip(answer_starts, answer_texts, strict=True)):
        if first < 0:
            continue
        last = first + len(text)  # one past the answer's last character
        if not text or last > len(contexts[b]):
            raise ValueError(
                f"answer {b} ({text!r} at character {first}) does not lie in its context "
                f"of {len(contexts[b])} characters"
            )
        tokens = context[b].nonzero().squeeze(1).tolist()
        # The first token that ends after the answer starts, the last that starts before it ends.
        hit_start = [t for t in tokens if offsets[b][t][1] > first]
        hit_end = [t for t in tokens if offsets[b][t][0] < last]
        if hit_start and hit_end and hit_start[0] <= hit_end[-1]:
            starts[b], ends[b] = hit_start[0], hit_end[-1]
    out.start_positions, out.end_positions = starts, ends
    return out


class QASpans(NamedTuple):
    """What :func:`best_spans` returns, each ``(B,)``.

    ``start``, ``end``: the chosen tokens (both 0 for "no answer"); ``span_score``: the best
    span's ``start + end`` logit (``-inf`` if the pair has no context token); ``null_score``:
    ``start[0] + end[0]``, the score of "no answer".
    """

    start: Tensor
    end: Tensor
    span_score: Tensor
    null_score: Tensor


def best_spans(
    start_logits: Tensor,
    end_logits: Tensor,
    context_mask: Tensor,
    *,
    max_answer_len: int = 30,
    null_threshold: float = 0.0,
) -> QASpans:
    """The best answer span of each pair, or "no answer".

    A span ``i..j`` is allowed if both ends are context tokens, ``i <= j`` and it has at most
    ``max_answer_len`` tokens; its score is ``start_logits[i] + end_logits[j]`` (the log of
    the product of the two softmax probabilities, up to a constant per pair). The model
    answers when ``span_score - null_score > null_threshold``, where ``null_score`` is the
    score of pointing at ``[CLS]``. ``null_threshold = 0`` trusts the model's own scores; a
    larger value answers less often (fewer wrong answers to unanswerable questions, more
    missed answers), and is usually tuned on held-out data to maximise F1.

    Args:
        start_logits, end_logits: ``(B, T)``.
        context_mask: ``(B, T)`` bool, ``True`` at context tokens.
        max_answer_len: the longest allowed span, in tokens.
        null_threshold: the margin a span must beat "no answer" by.

    Returns:
        :class:`QASpans`.

    Raises:
        ValueError: on mismatched shapes or devices, an empty sequence or a bad
            ``max_answer_len``.
        TypeError: on integer logits, a ``context_mask`` that is not bool, or a
            ``null_threshold`` that is not a number.
    """
    if not isinstance(start_logits, Tensor) or start_logits.ndim != 2:
        got = tuple(start_logits.shape) if isinstance(start_logits, Tensor) else start_logits
        raise ValueError(f"start_logits must have shape (B, T), but got {got!r}")
    if start_logits.shape[1] == 0:
        raise ValueError("start_logits must have at least one position (T >= 1), but T is 0")
    for name, t in (("end_logits", end_logits), ("context_mask", context_mask)):
        if not isinstance(t, Tensor) or t.shape != start_logits.shape:
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"{name} must have the shape of start_logits {tuple(start_logits.shape)}, "
                f"but got {got}"
            )
        check_device(name, t, start_logits.device, "start_logits is")
    for name, t in (("start_logits", start_logits), ("end_logits", end_logits)):
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, but has dtype {t.dtype}")
    # An integer 0/1 mask is the classic mix-up with additive masks: the library's masks are
    # boolean everywhere, so say so rather than guess.
    if context_mask.dtype != torch.bool:
        raise TypeError(
            f"context_mask must be a bool tensor (True at context tokens), but has dtype "
            f"{context_mask.dtype}"
        )
    if isinstance(null_threshold, bool) or not isinstance(null_threshold, numbers.Real):
        raise TypeError(f"null_threshold must be a number, but got {type(null_threshold).__name__}")
    if (
        not isinstance(max_answer_len, int)
        or isinstance(max_answer_len, bool)
        or max_answer_len < 1
    ):
        raise ValueError(f"max_answer_len must be a positive int, but got {max_answer_len!r}")
    T = start_logits.shape[1]
    s, e = start_logits.float(), end_logits.float()
    scores = s[:, :, None] + e[:, None, :]  # (B, T_start, T_end)
    i = torch.arange(T, device=s.device)
    # j >= i and j - i < max_answer_len, both ends in the context
    length_ok = (i[None, :] >= i[:, None]) & (i[None, :] - i[:, None] < max_answer_len)
    allowed = length_ok & context_mask[:, :, None] & context_mask[:, None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    span_score, flat = scores.flatten(1).max(dim=1)
    start, end = flat // T, flat % T
    null_score = s[:, 0] + e[:, 0]
    answer = span_score - null_score > null_threshold
    zero = torch.zeros_like(start)
    return QASpans(
        torch.where(answer, start, zero), torch.where(answer, end, zero), span_score, null_score
    )


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
