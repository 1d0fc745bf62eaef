"""save_pretrained / from_pretrained (transformer_lib.models.pretrained) and load_tokenizer:
nothing of the user's is deleted, the tokenizer travels with the model, and a training
checkpoint loads the same way."""

import pytest
import torch

import transformer_lib as tl

CONFIG = tl.GPTConfig(vocab_size=12, max_len=16, d_model=16, num_heads=2, num_layers=1)


def test_saving_again_keeps_the_users_files(tmp_path):
    path = tmp_path / "model"
    tl.GPT(CONFIG).save_pretrained(path)
    (path / "README.md").write_text("my notes")
    (path / "logs").mkdir()
    (path / "logs" / "run.txt").write_text("loss 1.0")
    tl.GPT(CONFIG).save_pretrained(path)
    tl.save_checkpoint(path, tl.GPT(CONFIG), step=3)
    assert (path / "README.md").read_text() == "my notes"
    assert (path / "logs" / "run.txt").read_text() == "loss 1.0"
    assert not list(tmp_path.glob(".model.*"))  # no temporary or set-aside directory left


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_the_tokenizer_is_saved_and_loaded_with_the_model(tmp_path, kind):
    text = "to be or not to be, that is the question"
    tokenizer = {
        "char": lambda: tl.CharTokenizer([text]),
        "word": lambda: tl.WordTokenizer([text]),
        "bpe": lambda: tl.BPETokenizer.train(text, 270),
    }[kind]()
    config = tl.GPTConfig(
        vocab_size=tokenizer.vocab_size, max_len=16, d_model=16, num_heads=2, num_layers=1
    )
    model = tl.GPT(config)
    model.save_pretrained(tmp_path / "m", tokenizer=tokenizer)
    loaded, loaded_tokenizer = tl.GPT.from_pretrained(tmp_path / "m", with_tokenizer=True)
    assert type(loaded_tokenizer) is type(tokenizer)
    assert loaded_tokenizer.encode(text) == tokenizer.encode(text)
    assert type(tl.load_tokenizer(tmp_path / "m")) is type(tokenizer)
    assert not loaded.training


def test_the_libraries_tokenizer_file_is_read_back(tmp_path):
    tokenizer = tl.train_bpe(["a small text for a small vocabulary"] * 3, 280)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = tl.load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.encode("a small text") == tokenizer.encode("a small text")


def test_a_word_tokenizer_file_keeps_every_id_and_rejects_a_damaged_one(tmp_path):
    tokenizer = tl.WordTokenizer(["b a a c , c c ."], max_size=3)
    tokenizer.save(tmp_path / "words.json")
    loaded = tl.WordTokenizer.load(tmp_path / "words.json")
    assert loaded.words == tokenizer.words == ["c", "a", ","]
    assert loaded.encode("a c b") == tokenizer.encode("a c b") == [5, 4, loaded.unk_id]
    (tmp_path / "bad.json").write_text('{"type": "WordTokenizer", "words": ["a"]}')
    with pytest.raises(ValueError, match="bad.json is invalid: it is not a WordTokenizer"):
        tl.WordTokenizer.load(tmp_path / "bad.json")


def test_load_tokenizer_says_what_is_missing(tmp_path):
    tl.GPT(CONFIG).save_pretrained(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match=r"tokenizer.json is missing .*tokenizer=\.\.\."):
        tl.load_tokenizer(tmp_path / "m")
    (tmp_path / "t.json").write_text('{"type": "Other"}')
    with pytest.raises(ValueError, match="type 'Other'"):
        tl.load_tokenizer(tmp_path / "t.json")


def test_from_pretrained_reads_a_training_checkpoint(tmp_path, one_thread):
    torch.manual_seed(0)
    model = tl.GPT(CONFIG)
    data = torch.randint(12, (8, 9))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    tl.train(
        model,
        lambda i: (data[:, :-1], data[:, 1:]),
        lambda m, batch: m(*batch)[1],
        optimizer,
        steps=3,
        progress=False,
        checkpoint_path=tmp_path / "ckpt",
    )
    loaded = tl.GPT.from_pretrained(tmp_path / "ckpt")
    model.eval()
    torch.testing.assert_close(loaded(data), model(data), rtol=0, atol=0)


def test_weights_saved_without_a_config_say_how_to_load_them(tmp_path):
    tl.save_checkpoint(tmp_path / "c", tl.GPT(CONFIG))
    with pytest.raises(ValueError, match=r"without a model config.*tl.load_checkpoint"):
        tl.GPT.from_pretrained(tmp_path / "c")
