"""The package's shape: the layer rule between subpackages, and the public names that must not
break (every name ``tl.X`` a reader or a notebook may use, and the old module paths)."""

import ast
import importlib
from pathlib import Path

import pytest

import transformer_lib as tl

PACKAGE = Path(tl.__file__).resolve().parent

# Each subpackage may import its own modules and those of lower layers, never a higher layer
# or another subpackage of the same layer.
LAYERS = {
    "utils": 0,
    "modules": 1,
    "data": 1,
    "datasets": 2,
    "evaluation": 2,
    # below models, as Hugging Face's: decoding needs only a model's interface, and a model's
    # thin ``generate`` method may then call it without importing upward
    "generation": 2,
    "models": 3,
    "training": 4,
    "pretrain": 5,  # the command-line trainer
    "__init__": 6,  # builds tl.* from every module
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(absolute module, line)`` for every import of a transformer_lib module in ``path``,
    function-level imports included."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "transformer_lib":
                continue
            # ``from . import distributed`` names a module, not an attribute
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if _is_module(sub) else target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, node.lineno) for a in node.names if a.name.startswith("transformer_lib")
            ]
    return found


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_layer_rule_holds():
    broken = []
    for path in SOURCES:
        here = _layer_of(_module_name(path))
        for target, line in _imports(path):
            there = _layer_of(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                broken.append(f"{path.relative_to(PACKAGE)}:{line} ({here}) imports {target}")
    assert not broken, "imports against the layer rule:\n" + "\n".join(broken)


def test_every_subpackage_has_a_layer_and_none_is_called_train():
    folders = {p.parent.relative_to(PACKAGE).parts[0] for p in PACKAGE.glob("*/__init__.py")}
    folders.discard("configs")
    assert folders <= set(LAYERS), f"give these subpackages a layer: {folders - set(LAYERS)}"
    # a subpackage ``train`` would shadow the function ``tl.train``
    assert "train" not in folders


def test_no_import_cycles():
    graph = {_module_name(p): {t for t, _ in _imports(p)} for p in SOURCES}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == "transformer_lib" or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for module in sorted(graph):
        if module != "transformer_lib" and module not in state:
            visit(module, [])


# Every public name of the library. Removing or renaming one breaks readers' code: keep the old
# name as an alias instead. Adding one: add it to transformer_lib._API and here.
PUBLIC = """
scaled_dot_product_attention causal_mask padding_mask MultiHeadAttention KVCache
SinusoidalPositionalEncoding LearnedPositionalEmbedding RotaryEmbedding alibi_bias alibi_slopes
LayerNorm RMSNorm FeedForward SwiGLU ResidualSublayer EncoderLayer Encoder DecoderLayer Decoder
LoRALinear add_lora lora_parameters merge_lora save_lora load_lora
CharTokenizer WordTokenizer BPETokenizer HFBPETokenizer train_bpe pad_batch bucket_batches
random_blocks load_tokenizer
span_corruption
key_value_lookup LookupBatch shifted_copy IGNORE_INDEX number_pairs train_test_numbers
load_parallel_corpus load_shakespeare shakespeare_plays genre_passages split_by_play Play Passage
event_reports EventReport EVENT_KINDS sentiment_reviews Review REVIEW_KINDS
topic_sentences TopicSentence TOPICS TOPIC_WORDS make_biographies Biography QAExample
instruction_tasks Instruction INSTRUCTION_TASKS INSTRUCTION_TEMPLATES REFUSAL
bleu chrf exact_match perplexity
Transformer TransformerConfig GPTConfig GPT GPTBlock GPTForSequenceClassification
load_gguf load_smollm2 smollm2_path GGUFTokenizer
BERTConfig BERT BERTForMaskedLM BERTForSequenceClassification BERTOutput mask_tokens mean_pool
load_minilm
BERTForQuestionAnswering QAOutput QAEncoding QASpans encode_qa best_spans answer_questions
normalize_answer qa_exact_match qa_f1 squad_scores
patchify PatchEmbedding ViTConfig ViT ViTForImageClassification
greedy_decode beam_search sample_token
train History configure_optimizer parameter_groups warmup_schedule noam_schedule cosine_schedule
sft_batch sequence_logprob dpo_loss DPOLoss
setup_distributed DistributedInfo is_main_process is_distributed get_rank get_world_size
all_reduce_mean cleanup
get_device set_seed save_checkpoint load_checkpoint checkpoint_exists time_call peak_memory
plot_attention plot_training_curve
""".split()


def test_every_public_name_stays_importable():
    assert len(PUBLIC) == len(set(PUBLIC)) == 135
    assert sorted(tl.__all__) == sorted(PUBLIC)
    namespace: dict = {}
    exec("from transformer_lib import *", namespace)
    missing = [name for name in PUBLIC if name not in namespace]
    assert not missing


@pytest.mark.parametrize("old, new", sorted(tl._OLD_PATHS.items()))
def test_old_module_paths_still_import(old, new):
    assert importlib.import_module(f"transformer_lib.{old}") is importlib.import_module(
        f"transformer_lib.{new}"
    )


def test_old_paths_used_by_notebooks_give_the_same_objects():
    from transformer_lib.biographies import make_biographies
    from transformer_lib.training import History, train
    from transformer_lib.vit import patchify

    assert (make_biographies, train, History, patchify) == (
        tl.make_biographies,
        tl.train,
        tl.History,
        tl.patchify,
    )


def test_old_module_attributes_still_resolve():
    assert tl.layers is tl.modules.layers
    assert tl.gpt.GPT is tl.GPT
    assert tl.span_corruption is tl.data.span_corruption.span_corruption  # the function wins


def test_no_module_imports_another_modules_private_names():
    """Private helpers shared between modules live in private modules (``utils/_checks.py``);
    a ``_name`` imported from anywhere else couples two modules through an internal detail."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if module.split(".")[-1].startswith("_"):
                continue  # a private module: its names are there to be shared
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private and (node.level or module.startswith("transformer_lib")):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {module}: {private}")
    assert not found, "private names imported across modules:\n" + "\n".join(found)
