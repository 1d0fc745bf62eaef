"""README's scripts run as written: a reader copies them first."""

import re
import runpy
from pathlib import Path

import pytest
import torch

import transformer_lib as tl

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_script(name: str) -> str:
    match = re.search(
        rf"<!-- readme-script: {name} -->\n```python\n(.*?)```", README.read_text(), re.S
    )
    assert match, f"README has no script marked {name!r}"
    return match.group(1)


@pytest.mark.slow
def test_the_char_gpt_script_trains_saves_loads_and_generates(tmp_path, monkeypatch, one_thread):
    text = tl.load_shakespeare("macbeth")[:60_000]
    (tmp_path / "my_text.txt").write_text(text, encoding="utf-8")
    script = readme_script("char-gpt").replace("steps=300", "steps=150")
    assert "steps=150" in script  # the shortening took: the test runs in seconds
    (tmp_path / "script.py").write_text(script, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(tmp_path / "script.py"))
    history, tokenizer = namespace["history"], namespace["tokenizer"]
    assert len(history) == 150
    # It learned the text: well below the loss of a uniform guess over the characters.
    assert sum(history[-10:]) / 10 < 0.75 * torch.log(torch.tensor(tokenizer.vocab_size))
    assert (tmp_path / "out" / "model" / "tokenizer.json").is_file()
    assert (tmp_path / "out" / "checkpoint" / "config.json").is_file()
