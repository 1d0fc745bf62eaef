"""The size and options of a :class:`~transformer_lib.BERT`."""

from __future__ import annotations

from dataclasses import dataclass

from ...utils._checks import is_int, is_number

__all__ = ["BERTConfig"]


@dataclass
class BERTConfig:
    """The size of a :class:`BERT` model. Names follow the library's one vocabulary.

    ``d_ff`` defaults to ``4 * d_model``; ``dropout`` applies to the embeddings, the attention
    weights and every sublayer output; ``norm_eps`` is the LayerNorm epsilon (BERT uses
    1e-12); ``num_labels`` and ``classifier_pooling`` are only read by
    :class:`BERTForSequenceClassification`: ``"cls"`` classifies the pooled ``[CLS]`` vector
    (BERT's paper), ``"mean"`` the mean of the real tokens' vectors (what sentence encoders
    such as all-MiniLM-L6-v2 are trained to produce, and better for encoders pre-trained
    without next-sentence prediction; the same option exists as ``classifier_pooling`` in
    some Hugging Face configs).
    """

    vocab_size: int
    max_len: int = 512
    d_model: int = 256
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int | None = None
    dropout: float = 0.1
    type_vocab_size: int = 2
    pad_id: int = 0
    norm_eps: float = 1e-12
    num_labels: int = 2
    classifier_pooling: str = "cls"

    def __post_init__(self) -> None:
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model if is_int(self.d_model) else None
        for name in (
            "vocab_size", "max_len", "d_model", "num_heads", "num_layers", "d_ff",
            "type_vocab_size", "num_labels",
        ):  # fmt: skip
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, but got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide d_model={self.d_model} "
                "(each head gets d_model / num_heads features)"
            )
        if not is_int(self.pad_id) or not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"pad_id must be an int in [0, vocab_size={self.vocab_size}), "
                f"but got {self.pad_id!r}"
            )
        if not is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a float in [0, 1), but got {self.dropout!r}")
        if not is_number(self.norm_eps) or not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive float, but got {self.norm_eps!r}")
        if self.classifier_pooling not in ("cls", "mean"):
            raise ValueError(
                f"classifier_pooling must be 'cls' or 'mean', but got {self.classifier_pooling!r}"
            )
