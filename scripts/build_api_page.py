"""Write book/api.md, the API reference page: every public name of transformer_lib, grouped.

Run it after adding a public name: ``.venv/bin/python scripts/build_api_page.py``. The page
is Sphinx autodoc directives, so the text itself comes from the docstrings at build time;
``tests/test_api_page.py`` fails when a name in ``transformer_lib.__all__`` is missing here.
"""

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import transformer_lib as tl  # noqa: E402

sections = [
    (
        "Attention",
        "Chapters 1 and 2.",
        [
            "scaled_dot_product_attention",
            "causal_mask",
            "padding_mask",
            "MultiHeadAttention",
            "KVCache",
        ],
    ),
    (
        "Positions",
        "Chapter 3.",
        [
            "SinusoidalPositionalEncoding",
            "LearnedPositionalEmbedding",
            "RotaryEmbedding",
            "alibi_bias",
            "alibi_slopes",
        ],
    ),
    (
        "Norms and blocks",
        "Chapters 4, 5 and 9.",
        [
            "LayerNorm",
            "RMSNorm",
            "FeedForward",
            "SwiGLU",
            "ResidualSublayer",
            "EncoderLayer",
            "Encoder",
            "DecoderLayer",
            "Decoder",
        ],
    ),
    (
        "Models",
        "Chapters 5, 6 and 9.",
        [
            "Transformer",
            "GPTConfig",
            "GPT",
            "GPTBlock",
            "GPTForSequenceClassification",
            "BERTConfig",
            "BERT",
            "BERTForMaskedLM",
            "BERTForSequenceClassification",
            "BERTOutput",
            "mask_tokens",
            "span_corruption",
            "mean_pool",
        ],
    ),
    (
        "Pretrained weights",
        "Chapters 6 and 9. Nothing is downloaded: the weights come from installed packages "
        "or local paths.",
        ["load_minilm", "load_gguf", "load_smollm2", "smollm2_path", "GGUFTokenizer"],
    ),
    (
        "Fine-tuning with LoRA",
        "Chapter 6.",
        ["LoRALinear", "add_lora", "lora_parameters", "merge_lora"],
    ),
    (
        "Decoding",
        "Chapter 5; `GPT.generate` and `GPT.generate_stream` are under Models.",
        ["greedy_decode", "beam_search"],
    ),
    (
        "Training",
        "Chapters 1, 4, 5 and 7.",
        [
            "train",
            "History",
            "configure_optimizer",
            "parameter_groups",
            "warmup_schedule",
            "noam_schedule",
            "cosine_schedule",
            "save_checkpoint",
            "load_checkpoint",
            "checkpoint_exists",
        ],
    ),
    (
        "Training on several devices",
        "Chapter 7 and the page on scaling out; `python -m transformer_lib.pretrain` is the "
        "command-line trainer built on these.",
        [
            "setup_distributed",
            "DistributedInfo",
            "is_main_process",
            "is_distributed",
            "get_rank",
            "get_world_size",
            "all_reduce_mean",
            "cleanup",
        ],
    ),
    (
        "Vision Transformer",
        "Chapter 8.",
        ["patchify", "PatchEmbedding", "ViTConfig", "ViT", "ViTForImageClassification"],
    ),
    (
        "Question answering",
        "Chapter 8: a span head on BERT, decoding the best span, and the SQuAD metrics.",
        [
            "BERTForQuestionAnswering",
            "QAOutput",
            "encode_qa",
            "QAEncoding",
            "best_spans",
            "QASpans",
            "answer_questions",
            "normalize_answer",
            "qa_exact_match",
            "qa_f1",
            "squad_scores",
        ],
    ),
    (
        "Generated tasks",
        "Chapters 6 and 8. Data sets made on the fly from seeded generators, so nothing is "
        "downloaded.",
        [
            "topic_sentences",
            "TopicSentence",
            "TOPICS",
            "TOPIC_WORDS",
            "make_biographies",
            "Biography",
            "QAExample",
            "sentiment_reviews",
            "Review",
            "REVIEW_KINDS",
            "event_reports",
            "EventReport",
            "EVENT_KINDS",
        ],
    ),
    ("Metrics", "Chapter 5.", ["bleu", "chrf", "exact_match", "perplexity"]),
    (
        "Data and tokenizers",
        "Chapters 5 and 6.",
        [
            "CharTokenizer",
            "WordTokenizer",
            "BPETokenizer",
            "HFBPETokenizer",
            "train_bpe",
            "pad_batch",
            "bucket_batches",
            "number_pairs",
            "train_test_numbers",
            "load_parallel_corpus",
            "load_shakespeare",
            "shakespeare_plays",
            "genre_passages",
            "split_by_play",
            "Play",
            "Passage",
        ],
    ),
    (
        "Synthetic tasks",
        "Chapters 1 to 4.",
        ["key_value_lookup", "LookupBatch", "shifted_copy", "IGNORE_INDEX"],
    ),
    (
        "Devices, seeds, measurement and plots",
        "",
        [
            "get_device",
            "set_seed",
            "time_call",
            "peak_memory",
            "plot_attention",
            "plot_training_curve",
        ],
    ),
]
out = [
    "# API reference",
    "",
    "Everything below is imported from the package root (`import transformer_lib as tl`) and",
    "documented from the library's own docstrings, so this page and `help(tl.GPT)` say the same.",
    "Shapes follow the book's conventions: batch first, `(B, T, d_model)` between layers and",
    '`(B, H, T, d_head)` inside attention; boolean masks mean "may attend".',
    "",
    "```{eval-rst}",
    ".. currentmodule:: transformer_lib",
    "```",
    "",
]
seen = set()
for title, intro, names in sections:
    out += [f"## {title}", ""]
    if intro:
        out += [intro, ""]
    for n in names:
        seen.add(n)
        o = getattr(tl, n)
        if inspect.isclass(o):
            out += ["```{eval-rst}", f".. autoclass:: {n}", "   :members:", "```", ""]
        elif callable(o):
            out += ["```{eval-rst}", f".. autofunction:: {n}", "```", ""]
        else:
            out += ["```{eval-rst}", f".. autodata:: {n}", "```", ""]
missing = sorted(set(tl.__all__) - seen)
if missing:
    sys.exit(f"add these names to a section of scripts/build_api_page.py: {missing}")
(ROOT / "book" / "api.md").write_text("\n".join(out), encoding="utf-8")
print(f"wrote book/api.md: {len(seen)} names")
