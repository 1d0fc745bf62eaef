"""transformer_lib: the small, tested PyTorch library behind the Transformer course book.

>>> import torch, transformer_lib as tl
>>> q = k = v = torch.randn(2, 4, 10, 16)            # (B, H, T, d_head)
>>> tl.scaled_dot_product_attention(q, k, v, is_causal=True).shape
torch.Size([2, 4, 10, 16])

The folders are the architecture, each layer importing only the ones below it (a test parses
the imports to hold this)::

    utils/                          devices, seeding, checkpoints on disk, measuring, plots
    modules/  data/                 building blocks; tokenizers, batching, training objectives
    datasets/ evaluation/ generation/   corpora; metrics; sampling and decoding
    models/                         Transformer, GPT, BERT, ViT, question answering, loaders
    training/                       the training loop, optimizers, schedules, several GPUs
    pretrain.py                     the command line: ``python -m transformer_lib.pretrain``

Every public name is importable as ``tl.<name>``; ``_API`` below is the one list of them.
"""

import importlib
import sys

__version__ = "0.1.0"

# module (relative to this package) -> the public names it gives ``tl``, in the order the API
# reference page lists them (scripts/build_api_page.py groups them by subpackage).
_API: dict[str, tuple[str, ...]] = {
    "modules.attention": ("scaled_dot_product_attention", "causal_mask", "padding_mask"),
    "modules.multi_head_attention": ("MultiHeadAttention", "KVCache"),
    "modules.positions": (
        "SinusoidalPositionalEncoding",
        "LearnedPositionalEmbedding",
        "RotaryEmbedding",
        "alibi_bias",
        "alibi_slopes",
    ),
    "modules.norms": ("LayerNorm", "RMSNorm"),
    "modules.feed_forward": ("FeedForward", "SwiGLU"),
    "modules.residual": ("ResidualSublayer",),
    "modules.encoder": ("EncoderLayer", "Encoder"),
    "modules.decoder": ("DecoderLayer", "Decoder"),
    "modules.pooling": ("mean_pool",),
    "modules.lora": (
        "LoRALinear",
        "add_lora",
        "lora_parameters",
        "merge_lora",
        "save_lora",
        "load_lora",
    ),
    "data.tokenizers": ("CharTokenizer", "WordTokenizer"),
    "data.bpe": ("BPETokenizer",),
    "data.fast_bpe": ("HFBPETokenizer", "train_bpe"),
    "data.batching": ("pad_batch", "bucket_batches", "random_blocks"),
    "data.masking": ("mask_tokens", "IGNORE_INDEX"),
    "data.tokenizer_files": ("load_tokenizer",),
    "data.qa_encoding": ("QAEncoding", "encode_qa"),
    "data.instruction": ("sft_batch",),
    "data.span_corruption": ("span_corruption",),
    "datasets.tasks": ("key_value_lookup", "LookupBatch", "shifted_copy"),
    "datasets.numbers": ("number_pairs", "train_test_numbers"),
    "datasets.parallel_corpus": ("load_parallel_corpus",),
    "datasets.shakespeare": (
        "load_shakespeare",
        "shakespeare_plays",
        "genre_passages",
        "split_by_play",
        "Play",
        "Passage",
    ),
    "datasets.news_reports": ("event_reports", "EventReport", "EVENT_KINDS"),
    "datasets.reviews": ("sentiment_reviews", "Review", "REVIEW_KINDS"),
    "datasets.topics": ("topic_sentences", "TopicSentence", "TOPICS", "TOPIC_WORDS"),
    "datasets.biographies": ("make_biographies", "Biography", "QAExample"),
    "datasets.instructions": (
        "instruction_tasks",
        "Instruction",
        "INSTRUCTION_TASKS",
        "INSTRUCTION_TEMPLATES",
        "REFUSAL",
    ),
    "evaluation.metrics": ("bleu", "chrf", "exact_match", "perplexity"),
    "evaluation.squad": ("normalize_answer", "qa_exact_match", "qa_f1", "squad_scores"),
    "models.transformer": ("Transformer", "TransformerConfig"),
    "models.gpt.config": ("GPTConfig",),
    "models.gpt.model": ("GPT", "GPTBlock"),
    "models.gpt.classification": ("GPTForSequenceClassification",),
    "models.gpt.gguf": ("load_gguf", "load_smollm2", "smollm2_path", "GGUFTokenizer"),
    "models.bert.config": ("BERTConfig",),
    "models.bert.model": ("BERT", "BERTOutput"),
    "models.bert.heads": ("BERTForMaskedLM", "BERTForSequenceClassification"),
    "models.bert.minilm": ("load_minilm",),
    "models.question_answering": ("BERTForQuestionAnswering", "QAOutput", "answer_questions"),
    "models.vit": ("patchify", "PatchEmbedding", "ViTConfig", "ViT", "ViTForImageClassification"),
    "generation.decoding": ("greedy_decode", "beam_search"),
    "generation.sampling": ("sample_token",),
    "generation.spans": ("QASpans", "best_spans"),
    "training.loop": ("train", "History"),
    "training.optim": ("configure_optimizer", "parameter_groups"),
    "training.schedules": ("warmup_schedule", "noam_schedule", "cosine_schedule"),
    "training.preference": ("sequence_logprob", "dpo_loss", "DPOLoss"),
    "training.distributed": (
        "setup_distributed",
        "DistributedInfo",
        "is_main_process",
        "is_distributed",
        "get_rank",
        "get_world_size",
        "all_reduce_mean",
        "cleanup",
    ),
    "utils.device": ("get_device",),
    "utils.seeding": ("set_seed",),
    "utils.checkpoint": ("save_checkpoint", "load_checkpoint", "checkpoint_exists"),
    "utils.measure": ("time_call", "peak_memory"),
    "utils.viz": ("plot_attention", "plot_training_curve"),
}

# Where each module lived before the library was split into subpackages (version 0.1 had one
# flat folder). ``import transformer_lib.gpt``, ``from transformer_lib.vit import ViT`` and
# ``tl.layers.POSITIONAL_KINDS`` keep working: the old name is another name of the same module
# object (unless a public name took it: ``tl.span_corruption`` is the function).
_OLD_PATHS: dict[str, str] = {
    "attention": "modules.attention",
    "multi_head_attention": "modules.multi_head_attention",
    "positions": "modules.positions",
    "norms": "modules.norms",
    "layers": "modules.layers",
    "lora": "modules.lora",
    "bpe": "data.bpe",
    "span_corruption": "data.span_corruption",
    "tasks": "datasets.tasks",
    "shakespeare": "datasets.shakespeare",
    "news_reports": "datasets.news_reports",
    "reviews": "datasets.reviews",
    "topics": "datasets.topics",
    "biographies": "datasets.biographies",
    "metrics": "evaluation.metrics",
    "transformer": "models.transformer",
    "gpt": "models.gpt",
    "gguf_file": "models.gpt.gguf",
    "bert": "models.bert",
    "question_answering": "models.question_answering",
    "vit": "models.vit",
    "pretrained": "models.pretrained",
    "decoding": "generation.decoding",
    "optim": "training.optim",
    "schedules": "training.schedules",
    "distributed": "training.distributed",
    "device": "utils.device",
    "seeding": "utils.seeding",
    "checkpoint": "utils.checkpoint",
    "measure": "utils.measure",
    "viz": "utils.viz",
}

for _module, _names in _API.items():
    _m = importlib.import_module(f".{_module}", __name__)
    globals().update({name: getattr(_m, name) for name in _names})
for _old, _new in _OLD_PATHS.items():
    importlib.import_module(f".{_new}", __name__)  # not every old home holds an _API name
    sys.modules[f"{__name__}.{_old}"] = sys.modules[f"{__name__}.{_new}"]
    globals().setdefault(_old, sys.modules[f"{__name__}.{_new}"])
del _module, _names, _m, _old, _new

__all__ = [name for names in _API.values() for name in names]
