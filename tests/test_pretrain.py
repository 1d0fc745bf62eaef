"""The command-line trainer on a reader's own text (transformer_lib.pretrain): character and
BPE tokenizers, the command-line overrides, and what the outputs let a reader do next. The
distributed runs and the config checks are in tests/training/test_distributed.py."""

import json
import math

import pytest
import torch

import transformer_lib as tl
from transformer_lib.pretrain import load_config, main

SMALL = {
    "model": {"d_model": 32, "num_heads": 2, "num_layers": 1},
    "batch_size": 8,
    "block_size": 32,
    "warmup_steps": 200,  # longer than --steps below: the command line shortens it
    "lr": 1e-2,
    "eval_interval": 20,
    "eval_batches": 2,
    "progress": False,
    "device": "cpu",
}
TEXT = "the quick brown fox jumps over the lazy dog. " * 80 + "a tale told by an idiot. " * 80


@pytest.mark.parametrize("tokenizer", ["char", "bpe"])
def test_a_text_file_trains_a_model_that_loads_with_its_tokenizer(
    tmp_path, capsys, tokenizer, one_thread
):
    (tmp_path / "mine.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "small.json").write_text(json.dumps({**SMALL, "vocab_size": 300}))
    out = tmp_path / "out"
    args = ["--config", str(tmp_path / "small.json"), "--text-file", str(tmp_path / "mine.txt")]
    args += ["--tokenizer", tokenizer, "--steps", "150", "--out-dir", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "final validation loss" in printed
    config = json.loads((out / "run_config.json").read_text())
    assert config["steps"] == 150 and config["warmup_steps"] == 15 and config["plays"] is None
    model, tok = tl.GPT.from_pretrained(out / "model", with_tokenizer=True)
    assert isinstance(tok, tl.CharTokenizer if tokenizer == "char" else tl.BPETokenizer)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_loss"] < 0.6 * math.log(tok.vocab_size)  # it learned the text
    prompt = torch.tensor([tok.encode("the quick")])
    assert tok.decode(model.generate(prompt, 10, temperature=0)[0].tolist()).startswith("the quick")


def test_text_file_problems_are_named(tmp_path):
    with pytest.raises(ValueError, match="'text_file' and 'plays' exclude each other"):
        load_config({"text_file": "a.txt", "plays": "macbeth"})
    with pytest.raises(ValueError, match='\'tokenizer\' must be "char" or "bpe"'):
        load_config({"tokenizer": "word"})
    with pytest.raises(ValueError, match="'vocab_size' must be an int >= 259"):
        load_config({"vocab_size": 100})
    (tmp_path / "short.txt").write_text("too short")
    args = ["--text-file", str(tmp_path / "short.txt"), "--out-dir", str(tmp_path / "o")]
    with pytest.raises(ValueError, match="block_size=128 is too long .* a longer text file"):
        main(args)
    with pytest.raises(FileNotFoundError, match="'text_file': .*missing.txt does not exist"):
        main(["--text-file", str(tmp_path / "missing.txt"), "--out-dir", str(tmp_path / "o")])
