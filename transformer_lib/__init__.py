"""transformer_lib: the small, tested PyTorch library behind the Transformer course book.

>>> import torch, transformer_lib as tl
>>> q = k = v = torch.randn(2, 4, 10, 16)            # (B, H, T, d_head)
>>> tl.scaled_dot_product_attention(q, k, v, is_causal=True).shape
torch.Size([2, 4, 10, 16])
"""

from .attention import causal_mask, padding_mask, scaled_dot_product_attention
from .bert import (
    BERT,
    BERTConfig,
    BERTForMaskedLM,
    BERTForSequenceClassification,
    BERTOutput,
    load_minilm,
    mask_tokens,
    mean_pool,
)
from .biographies import Biography, QAExample, make_biographies
from .bpe import BPETokenizer, HFBPETokenizer, train_bpe
from .checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from .data import (
    CharTokenizer,
    WordTokenizer,
    bucket_batches,
    load_parallel_corpus,
    number_pairs,
    pad_batch,
    train_test_numbers,
)
from .decoding import beam_search, greedy_decode
from .device import get_device
from .distributed import (
    DistributedInfo,
    all_reduce_mean,
    cleanup,
    get_rank,
    get_world_size,
    is_distributed,
    is_main_process,
    setup_distributed,
)
from .gguf_file import GGUFTokenizer, load_gguf, load_smollm2, smollm2_path
from .gpt import GPT, GPTBlock, GPTConfig, GPTForSequenceClassification
from .layers import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    FeedForward,
    ResidualSublayer,
    SwiGLU,
)
from .lora import LoRALinear, add_lora, lora_parameters, merge_lora
from .measure import peak_memory, time_call
from .metrics import bleu, chrf, exact_match, perplexity
from .multi_head_attention import KVCache, MultiHeadAttention
from .news_reports import EVENT_KINDS, EventReport, event_reports
from .norms import LayerNorm, RMSNorm
from .optim import configure_optimizer, parameter_groups
from .positions import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
)
from .question_answering import (
    BERTForQuestionAnswering,
    QAEncoding,
    QAOutput,
    QASpans,
    answer_questions,
    best_spans,
    encode_qa,
    normalize_answer,
    qa_exact_match,
    qa_f1,
    squad_scores,
)
from .reviews import REVIEW_KINDS, Review, sentiment_reviews
from .schedules import cosine_schedule, noam_schedule, warmup_schedule
from .seeding import set_seed
from .shakespeare import (
    Passage,
    Play,
    genre_passages,
    load_shakespeare,
    shakespeare_plays,
    split_by_play,
)
from .span_corruption import span_corruption
from .tasks import IGNORE_INDEX, LookupBatch, key_value_lookup, shifted_copy
from .topics import TOPIC_WORDS, TOPICS, TopicSentence, topic_sentences
from .training import History, train
from .transformer import Transformer
from .vit import PatchEmbedding, ViT, ViTConfig, ViTForImageClassification, patchify
from .viz import plot_attention, plot_training_curve

__version__ = "0.1.0"

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "KVCache",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "alibi_bias",
    "alibi_slopes",
    "LayerNorm",
    "RMSNorm",
    "FeedForward",
    "SwiGLU",
    "ResidualSublayer",
    "EncoderLayer",
    "Encoder",
    "DecoderLayer",
    "Decoder",
    "Transformer",
    "BERTConfig",
    "BERT",
    "BERTForMaskedLM",
    "BERTForSequenceClassification",
    "BERTOutput",
    "mask_tokens",
    "span_corruption",
    "mean_pool",
    "load_minilm",
    "GPTConfig",
    "GPT",
    "GPTBlock",
    "GPTForSequenceClassification",
    "load_gguf",
    "load_smollm2",
    "smollm2_path",
    "GGUFTokenizer",
    "LoRALinear",
    "add_lora",
    "lora_parameters",
    "merge_lora",
    "greedy_decode",
    "beam_search",
    "warmup_schedule",
    "noam_schedule",
    "cosine_schedule",
    "get_device",
    "set_seed",
    "train",
    "History",
    "configure_optimizer",
    "parameter_groups",
    "setup_distributed",
    "DistributedInfo",
    "is_main_process",
    "is_distributed",
    "get_rank",
    "get_world_size",
    "all_reduce_mean",
    "cleanup",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_exists",
    "bleu",
    "chrf",
    "exact_match",
    "perplexity",
    "CharTokenizer",
    "WordTokenizer",
    "pad_batch",
    "bucket_batches",
    "number_pairs",
    "train_test_numbers",
    "load_parallel_corpus",
    "BPETokenizer",
    "HFBPETokenizer",
    "train_bpe",
    "load_shakespeare",
    "shakespeare_plays",
    "genre_passages",
    "split_by_play",
    "Play",
    "Passage",
    "time_call",
    "peak_memory",
    "key_value_lookup",
    "LookupBatch",
    "shifted_copy",
    "IGNORE_INDEX",
    "plot_attention",
    "plot_training_curve",
    "patchify",
    "PatchEmbedding",
    "ViTConfig",
    "ViT",
    "ViTForImageClassification",
    "event_reports",
    "EventReport",
    "EVENT_KINDS",
    "sentiment_reviews",
    "Review",
    "REVIEW_KINDS",
    "topic_sentences",
    "TopicSentence",
    "TOPICS",
    "TOPIC_WORDS",
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
    "make_biographies",
    "Biography",
    "QAExample",
]
