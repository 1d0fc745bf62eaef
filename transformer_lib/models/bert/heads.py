"""Heads on :class:`~transformer_lib.BERT`: masked-LM pre-training and sequence classification."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.masking import IGNORE_INDEX
from ...modules.norms import LayerNorm
from ...modules.pooling import mean_pool
from ...utils._checks import check_labels
from ..pretrained import PretrainedMixin
from .config import BERTConfig
from .conversion import (
    config_from_huggingface,
    head_state,
    load_state,
    read_huggingface,
    rename_keys,
)
from .model import BERT, BERTOutput, init_weights

__all__ = ["BERTForMaskedLM", "BERTForSequenceClassification"]


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
        init_weights(self.dense)

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
            check_labels(labels, input_ids.shape, self.config.vocab_size, "(B, T)", IGNORE_INDEX)
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
        hf_config, state = read_huggingface(model_or_path, use_transformers, "AutoModelForMaskedLM")
        model = cls(config_from_huggingface(hf_config))
        # BertForPreTraining checkpoints also hold a pooler, which the masked-LM head never uses.
        renamed = {k: v for k, v in rename_keys(state).items() if not k.startswith("pooler.")}
        load_state(model, head_state(renamed))
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
        init_weights(self.classifier)

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
                check_labels(labels, input_ids.shape[:1], None, "(B,)", IGNORE_INDEX)
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                check_labels(labels, input_ids.shape[:1], self.num_labels, "(B,)", IGNORE_INDEX)
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
        hf_config, state = read_huggingface(
            model_or_path, use_transformers, "AutoModelForSequenceClassification"
        )
        model = cls(config_from_huggingface(hf_config))
        load_state(model, head_state(rename_keys(state)))
        return model.eval()
