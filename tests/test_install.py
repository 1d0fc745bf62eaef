"""A bare install works end to end: the wheel, installed into a new virtual environment with
its declared dependencies only (no extras: no tqdm, matplotlib, tokenizers or transformers),
trains a small GPT, saves it with its tokenizer, and a new process loads it and generates.

This is the check that caught numpy missing from the dependencies: the development
environment has every optional package, so only a fresh environment shows what a reader's
``pip install .`` lacks."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

TRAIN = """
import importlib.util, torch, transformer_lib as tl
assert "site-packages" in tl.__file__, tl.__file__  # the installed wheel, not the checkout
missing = [m for m in ("tqdm", "matplotlib", "tokenizers", "transformers")
           if importlib.util.find_spec(m) is not None]
assert not missing, f"not a bare install: {missing}"
text = "a bare install trains, saves and loads. " * 50
tok = tl.CharTokenizer([text])
data = torch.tensor(tok.encode(text))
model = tl.GPT(tl.GPTConfig(vocab_size=tok.vocab_size, max_len=32, d_model=32, num_heads=2,
                            num_layers=1))
opt = tl.configure_optimizer(model, lr=1e-2)
tl.train(model, lambda i: tl.random_blocks(data, 32, 8), lambda m, b: m(*b)[1], opt, steps=5,
         checkpoint_path="ckpt")
model.save_pretrained("model", tokenizer=tok)
print("SAVED")
"""

LOAD = """
import torch, transformer_lib as tl
model, tok = tl.GPT.from_pretrained("model", with_tokenizer=True)
again = tl.GPT.from_pretrained("ckpt")  # the training checkpoint loads the same way
out = model.generate(torch.tensor([tok.encode("a bare")]), 10)
print("GENERATED", repr(tok.decode(out[0].tolist())))
"""


def run(args, cwd, timeout=600):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_in_a_bare_environment_trains_saves_loads_and_generates(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ROOT], tmp_path)
    (wheel,) = tmp_path.glob("transformer_lib-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    # The PyTorch build of this environment first (as README says, a CPU build is chosen
    # explicitly; an unpinned torch from PyPI would be a multi-gigabyte CUDA build).
    pin = f"torch=={torch.__version__.split('+')[0]}"
    run([python, "-m", "pip", "install", "-q", pin], tmp_path)
    run([python, "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    assert "SAVED" in run([python, "-c", TRAIN], work)
    assert "GENERATED 'a bare" in run([python, "-c", LOAD], work)
