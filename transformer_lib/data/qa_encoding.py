"""Question answering's inputs: (question, context) pairs tokenized as one BERT pair, with the
answer's characters found among the tokens and the tokens' characters kept to map back
(chapter 8). The model is :class:`~transformer_lib.BERTForQuestionAnswering`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["QAEncoding", "encode_qa"]


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
