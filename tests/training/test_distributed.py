"""Data-parallel training: two CPU processes (gloo) under torchrun, the helpers, the config.

The launches run ``python -m torch.distributed.run --standalone`` (torchrun), which picks a
free port itself, with a tiny GPT on one play. Each launch costs a few seconds of process
start-up (two Python processes importing torch) before a second of training.
"""

import json
import math
import os
import subprocess
import sys
from importlib import resources

import pytest
import torch

import transformer_lib as tl
from transformer_lib.pretrain import DEFAULTS, load_config, main, run
from transformer_lib.pretrain.runner import _derive_seed
from transformer_lib.training import distributed

TINY = {
    "model": {"d_model": 32, "num_heads": 2, "num_layers": 2, "dropout": 0.1},
    "plays": "macbeth",
    "batch_size": 8,
    "block_size": 32,
    "steps": 30,
    "warmup_steps": 5,
    "lr": 3e-3,
    "eval_interval": 10,
    "eval_batches": 4,
    "progress": False,
}

needs_gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this PyTorch build has no torch.distributed gloo backend",
)


def torchrun(tmp_path, name, *extra, nproc=2, **overrides):
    """Train TINY (with ``overrides``) on ``nproc`` processes; returns the output directory."""
    out_dir = tmp_path / name
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps({**TINY, **overrides, "out_dir": str(out_dir)}))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={nproc}", "-m", "transformer_lib.pretrain"]
    command += ["--config", str(config), "--write-param-digest", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out_dir, done.stdout


def rank_records(out_dir, nproc=2):
    return [json.loads((out_dir / f"params.rank{r}.json").read_text()) for r in range(nproc)]


@pytest.mark.slow
@needs_gloo
def test_two_processes_keep_identical_replicas_learn_and_resume_exactly(tmp_path):
    # An uninterrupted run of 30 steps, checkpoints every 10.
    full, stdout = torchrun(tmp_path, "full")
    ranks = rank_records(full)
    assert "2 process(es) on cpu (gloo)" in stdout
    assert stdout.count("final validation loss") == 1  # printed by rank 0 only

    # (a) DDP averaged the gradients, so both replicas hold bit-identical weights.
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["sha256"] == ranks[1]["sha256"]
    assert ranks[0]["losses"] == ranks[1]["losses"]  # the mean over the ranks, on each

    # (b) It learned: training and validation losses fell from chance level.
    metrics = json.loads((full / "metrics.json").read_text())
    losses = metrics["train_losses"]
    assert len(losses) == 30 and losses == ranks[0]["losses"]
    vocab = tl.CharTokenizer.load(full / "tokenizer.json").vocab_size
    assert losses[0] == pytest.approx(math.log(vocab), rel=0.1)  # chance at the start
    assert sum(losses[-5:]) / 5 < losses[0] - 0.5
    val = [m["val_loss"] for _, m in metrics["evals"]]
    assert [s for s, _ in metrics["evals"]] == [10, 20, 30]
    assert val[-1] < val[0] and val[-1] == metrics["val_loss"]

    # (c) Only rank 0 wrote the checkpoint; it is complete, and no temporary copy is left.
    assert ranks[0]["checkpoints_written"] == [10, 20, 30]
    assert ranks[1]["checkpoints_written"] == []
    assert sorted(p.name for p in full.iterdir() if p.name.startswith(".")) == []
    assert tl.checkpoint_exists(full / "checkpoint")
    model = tl.GPT.from_pretrained(full / "model")
    info = tl.load_checkpoint(full / "checkpoint", model)
    assert info["step"] == 30

    # The same run stopped at step 20 and started again: every rank continues its own random
    # streams (batches and dropout) and ends bit for bit where the uninterrupted run did.
    cut, stdout = torchrun(tmp_path, "cut", "--stop-after", "20")
    assert "validation loss at step 20" in stdout
    assert rank_records(cut)[0]["checkpoints_written"] == [10, 20]
    torchrun(tmp_path, "cut")
    resumed = rank_records(cut)
    assert resumed[0]["checkpoints_written"] == [30]  # only the steps after the restart
    assert resumed[0]["sha256"] == resumed[1]["sha256"] == ranks[0]["sha256"]
    assert resumed[0]["losses"] == ranks[0]["losses"]


# --------------------------------------------------------------------------------------------
# One process: the same script without torchrun
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_torchrun_env(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_one_process_run_writes_everything_and_resumes(tmp_path, no_torchrun_env, one_thread):
    config = {**TINY, "steps": 20, "out_dir": str(tmp_path / "out"), "device": "cpu"}
    first = run(config, stop_after=10)
    assert first["world_size"] == 1 and first["step"] == 10 and len(first["history"]) == 10
    second = run(config)
    assert second["step"] == 20 and len(second["history"]) == 20
    assert second["history"][:10] == list(first["history"])  # carried over from the checkpoint
    assert second["history"].checkpoints == [20]  # this process wrote only the last one
    out = tmp_path / "out"
    assert json.loads((out / "run_config.json").read_text())["steps"] == 20
    model = tl.GPT.from_pretrained(out / "model")
    tokenizer = tl.CharTokenizer.load(out / "tokenizer.json")
    assert model.config.vocab_size == tokenizer.vocab_size and model.config.max_len == 32
    assert second["val_loss"] < math.log(tokenizer.vocab_size)


def test_each_rank_and_step_draws_its_own_batches():
    seeds = {_derive_seed(0, "train", rank, step) for rank in range(4) for step in range(100)}
    assert len(seeds) == 400
    assert _derive_seed(0, "train", 1, 5) == _derive_seed(0, "train", 1, 5)  # reproducible
    assert all(0 <= s < 2**63 for s in seeds)


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


def test_defaults_and_the_example_config_are_valid():
    assert load_config() == {**DEFAULTS, "model": DEFAULTS["model"]}
    example = resources.files("transformer_lib") / "configs" / "shakespeare_char.json"
    config = load_config(json.loads(example.read_text(encoding="utf-8")))
    assert config["model"]["d_model"] == 128


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batchsize": 8}, "unknown config keys \\['batchsize'\\]; did you mean \\['batch_size'"),
        ({"steps": 0}, "'steps' must be an int >= 1"),
        ({"steps": 10.0}, "'steps' must be an int >= 1"),
        ({"lr": -1}, "'lr' must be a number > 0"),
        ({"lr": True}, "'lr' must be a number > 0"),
        ({"warmup_steps": 50, "steps": 10}, "'warmup_steps' must be an int in \\[0, steps=10\\]"),
        ({"betas": [0.9]}, "'betas' must be a list of two numbers"),
        ({"amp": "fp8"}, "'amp' must be"),
        ({"compile": "yes"}, "'compile' must be true or false"),
        ({"val_fraction": 1.0}, "'val_fraction' must be a number in \\(0, 1\\)"),
        ({"plays": []}, "'plays' must be"),
        ({"model": {"vocab_size": 10}}, "must not set vocab_size"),
        ({"model": {"dmodel": 10}}, "unknown fields \\['dmodel'\\]"),
        ({"model": {"max_len": 16}}, "max_len=16, shorter than block_size=32"),
        ({"model": {"d_model": 30, "num_heads": 4}}, "'model' is invalid: num_heads=4"),
    ],
)
def test_bad_configs_are_rejected_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config({**TINY, **overrides})


def test_config_files_and_the_command_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(bad)])
    assert exit_info.value.code == 2 and "not valid JSON" in capsys.readouterr().err
    assert main(["--print-defaults"]) == 0
    assert json.loads(capsys.readouterr().out) == DEFAULTS
    with pytest.raises(ValueError, match="stop_after"):
        run(TINY, stop_after=0)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def test_setup_without_torchrun_is_a_single_process(no_torchrun_env):
    info = distributed.setup_distributed(device="cpu")
    assert (info.rank, info.local_rank, info.world_size, info.backend) == (0, 0, 1, None)
    assert info.is_main and info.device == torch.device("cpu") and info.device_ids is None
    assert not distributed.is_distributed()
    assert distributed.is_main_process() and distributed.get_world_size() == 1
    x = torch.tensor([1.0, 3.0])
    mean = distributed.all_reduce_mean(x)
    assert torch.equal(mean, x) and mean is not x
    distributed.cleanup()  # nothing to leave: no error


def test_setup_rejects_bad_environments_and_arguments(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2 and WORLD_SIZE=2"):
        distributed.setup_distributed()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK must be an int"):
        distributed.setup_distributed()
    with pytest.raises(ValueError, match="backend must be one of"):
        distributed.setup_distributed(backend="mpi")
    with pytest.raises(TypeError, match="floating-point"):
        distributed.all_reduce_mean(torch.tensor([1, 2]))


def test_threads_option_sets_torchs_threads(monkeypatch, capsys):
    """--threads N: with another PyTorch process on the same cores, give each its share."""
    from transformer_lib.pretrain import cli

    seen = []
    monkeypatch.setattr(cli, "run", lambda *a, **k: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [1]
    with pytest.raises(SystemExit) as exit_info:
        main(["--threads", "0"])
    assert exit_info.value.code == 2 and "--threads must be >= 1" in capsys.readouterr().err
