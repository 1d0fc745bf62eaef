"""Tests of the committed span-corruption checkpoint (data/t5_event_reports/) and its script.

The checkpoint is what ``scripts/pretrain_t5.py`` writes; section 8.4 fine-tunes it. These
tests check that the files, the script's recipe and the library still agree, so that a change
to one of them cannot silently leave the book loading weights of another recipe.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

import transformer_lib as tl

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "data" / "t5_event_reports"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("pretrain_t5", ROOT / "scripts/pretrain_t5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loaded():
    model = tl.Transformer.from_pretrained(CHECKPOINT)
    extra = tl.load_checkpoint(CHECKPOINT, model)["extra"]
    return model, tl.load_tokenizer(CHECKPOINT), extra


def test_checkpoint_is_small_and_documented():
    names = {p.name for p in CHECKPOINT.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= names
    assert (CHECKPOINT / "model.safetensors").stat().st_size < 2_000_000
    assert "data/t5_event_reports/" in (ROOT / "LICENSE").read_text()


def test_recipe_and_shape_are_the_scripts(script, loaded):
    model, tok, extra = loaded
    assert extra["recipe"] == script.RECIPE
    assert extra["model"] == script.MODEL
    assert extra["num_sentinels"] == script.NUM_SENTINELS
    c = model.config
    for name, value in script.MODEL.items():
        assert getattr(c, name) == value, name
    assert c.share_embeddings and c.tie_embeddings
    # one table: encoder input, decoder input and output layer
    assert model.src_embed.weight is model.tgt_embed.weight is model.generator.weight
    assert c.src_vocab_size == tok.vocab_size + script.NUM_SENTINELS


def test_tokenizer_is_the_one_the_script_builds(script, loaded):
    _, tok, extra = loaded
    reports = tl.event_reports(extra["recipe"]["pages"], seed=extra["recipe"]["pages_seed"])
    rebuilt = script.build_tokenizer(reports)
    assert rebuilt.vocab_size == tok.vocab_size
    text = script.page(reports[0]) + " " + " ".join(script.PREFIXES)
    assert rebuilt.encode(text) == tok.encode(text)


def test_stored_losses_show_learning(loaded):
    _, _, extra = loaded
    losses = extra["losses"]
    assert len(losses) == extra["recipe"]["steps"]
    assert all(math.isfinite(x) for x in losses)
    first, last = sum(losses[:50]) / 50, sum(losses[-100:]) / 100
    assert last < 0.5 * first, (first, last)


def test_model_fills_a_gap_better_than_a_random_one(loaded):
    """The trained weights, not just the right shapes: lower loss on unseen pages."""
    model, tok, extra = loaded
    sentinels = list(range(tok.vocab_size, tok.vocab_size + extra["num_sentinels"]))
    g = torch.Generator().manual_seed(0)
    src, tgt = [], []
    for r in tl.event_reports(32, seed=1):
        x, y = tl.span_corruption(
            tok.encode(r.headline + " . " + r.report), sentinel_ids=sentinels, generator=g
        )
        src.append(x.tolist())
        tgt.append([tok.bos_id, *y.tolist(), tok.eos_id])
    src, tgt = tl.pad_batch(src, tok.pad_id), tl.pad_batch(tgt, tok.pad_id)

    def loss(m):
        with torch.no_grad():
            logits = m.eval()(src, tgt[:, :-1])
        return torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=tok.pad_id
        ).item()

    torch.manual_seed(0)
    random = tl.Transformer(model.config)
    assert loss(model) < 0.5 * loss(random)
