"""A training run killed with SIGKILL in the middle of writing a checkpoint, again and again.

The parent (the test) starts this file as a child process (``python tests/test_faults.py
CKPT KILL_AT``). The child trains a tiny GPT with ``train`` (dropout on, data shuffled per
epoch, a cosine schedule), saves a checkpoint every ``EVERY`` steps and resumes from the
latest one when it starts. To be killed at a known point *inside* a write, the child wraps
the checkpoint module's own helpers (``_write_bytes``, ``os.replace``) in itself only: at
the point named by ``KILL_AT`` it writes what a real kill would leave on disk (half a file,
for the ``-half`` points), prints ``FAULT <point>`` and waits; the parent then kills it with
SIGKILL, which no Python code can intercept (no ``finally``, no cleanup).

After every kill the parent checks that the last good checkpoint loads (the step and the
bit-exact weights the child announced when it saved it), that the half-written temporary
directory is never taken for a checkpoint, and then starts the next child. The last child
runs to the end; its final weights and per-step losses must equal, bit for bit, those of an
uninterrupted run with the same seed (in a child of its own, without checkpoints), and no
temporary directory may remain.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

STEPS = 24  # optimisation steps of the whole run
EVERY = 2  # steps between checkpoints
KILL_IN_SAVE = 2  # each child is killed in its second save, so every child makes progress
VOCAB, LENGTH, EXAMPLES, BATCH = 11, 8, 48, 8

# Where a save is killed, in the order a save passes them. "-half": the file is half
# written; "before-X": the previous file is complete and X not started.
KILL_POINTS = [
    "before-model",  # the temporary directory exists, empty
    "model-half",
    "before-state",  # between files
    "state-half",
    "before-config",
    "config-half",  # config.json (the mark of a complete checkpoint) half written in tmp
    "before-switch",  # tmp complete and on disk, just before the first os.replace
    "between-replaces",  # the old checkpoint moved aside, the new one not yet in place
    "after-switch",  # the new checkpoint in place, the old one not yet removed
]


# --------------------------------------------------------------------------------------------
# The run (shared by the child and the in-process reference)
# --------------------------------------------------------------------------------------------


def _dataset(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A reverse-the-sequence task: ``EXAMPLES`` inputs and targets, fixed by the seed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(VOCAB, (EXAMPLES, LENGTH), generator=g)
    return x, x.flip(-1)


def make_run(seed: int = 0):
    """A seeded model, optimizer, scheduler and ``get_batch`` (a pure function of the index,
    shuffling the examples anew every epoch, as exact resumption needs)."""
    from transformer_lib.models.gpt import GPT, GPTConfig
    from transformer_lib.training.schedules import cosine_schedule
    from transformer_lib.utils.seeding import set_seed

    set_seed(seed)
    config = GPTConfig(
        vocab_size=VOCAB, max_len=LENGTH, d_model=16, num_heads=2, num_layers=1, dropout=0.1
    )
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = cosine_schedule(optimizer, 2, STEPS)
    x, y = _dataset(seed)
    per_epoch = EXAMPLES // BATCH

    def get_batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, k = divmod(i, per_epoch)
        order = torch.randperm(EXAMPLES, generator=torch.Generator().manual_seed(seed + epoch))
        idx = order[k * BATCH : (k + 1) * BATCH]
        return x[idx], y[idx]

    return model, optimizer, scheduler, get_batch


def loss_fn(model, batch):
    x, y = batch
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def train_run(checkpoint_path=None, seed: int = 0):
    from transformer_lib.training.loop import train

    model, optimizer, scheduler, get_batch = make_run(seed)
    history = train(
        model,
        get_batch,
        loss_fn,
        optimizer,
        steps=STEPS,
        scheduler=scheduler,
        checkpoint_path=checkpoint_path,
        checkpoint_every=EVERY if checkpoint_path is not None else None,
        progress=False,
        log_every=EVERY,
    )
    return model, history


def losses_digest(losses) -> str:
    """SHA-256 of the per-step losses (``repr`` of a float is exact)."""
    return hashlib.sha256(repr([float(x) for x in losses]).encode()).hexdigest()


def digest(model) -> str:
    """SHA-256 of every tensor's bytes, by name: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(value.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------------------------


def child(path: str, kill_at: str) -> None:
    """Train from the latest checkpoint at ``path``; stop for the kill at ``kill_at``.

    ``kill_at="reference"``: one uninterrupted run without checkpoints, to compare with.
    """
    torch.set_num_threads(1)  # every child computes with the same arithmetic
    if kill_at == "reference":
        model, history = train_run(None)
        print("DONE", len(history), digest(model), losses_digest(history), flush=True)
        return
    from transformer_lib.training import loop as training
    from transformer_lib.utils import checkpoint

    saves = 0

    def say(*words) -> None:
        print(*words, flush=True)

    def fault(point: str) -> None:
        if saves == KILL_IN_SAVE and point == kill_at:
            say("FAULT", point)
            time.sleep(300)  # the parent kills us here; its watchdog ends a lost child

    real_write, real_replace = checkpoint._write_bytes, os.replace
    real_save = training.save_checkpoint

    def write_bytes(file: Path, data: bytes) -> None:
        stem = file.name.split(".")[0].split("_")[-1]  # model, state, config
        fault(f"before-{stem}")
        if saves == KILL_IN_SAVE and kill_at == f"{stem}-half":
            with open(file, "wb") as f:  # what a kill in the middle of write() leaves
                f.write(data[: len(data) // 2])
                f.flush()
            fault(kill_at)
        real_write(file, data)

    def replace(src, dst) -> None:
        if Path(src).name.startswith(".ckpt.tmp-"):
            fault("before-switch")
            real_replace(src, dst)
            fault("after-switch")
            return
        if Path(dst).name.startswith(".ckpt.old-"):
            fault("before-switch")
            real_replace(src, dst)
            fault("between-replaces")
            return
        real_replace(src, dst)

    def save_checkpoint(path, model, **kwargs):
        nonlocal saves
        saves += 1
        say("SAVING", kwargs["step"], digest(model))
        result = real_save(path, model, **kwargs)
        say("SAVED", kwargs["step"], digest(model))
        return result

    checkpoint._write_bytes = write_bytes
    os.replace = replace  # the os module checkpoint.py uses: in this process only
    training.save_checkpoint = save_checkpoint
    model, history = train_run(path)
    say("DONE", len(history), digest(model), losses_digest(history))


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def _start(path: Path, kill_at: str, stderr) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, __file__, str(path), kill_at],
        stdout=subprocess.PIPE,
        stderr=stderr,  # a file, not a pipe nobody reads while the child runs
        text=True,
        env=env,
    )


def _check_latest(path: Path, step: int, expected_digest: str) -> None:
    from transformer_lib.utils.checkpoint import checkpoint_exists, load_checkpoint

    assert checkpoint_exists(path)
    model, optimizer, scheduler, _ = make_run(seed=1)  # other weights, overwritten by the load
    info = load_checkpoint(path, model, optimizer=optimizer, scheduler=scheduler)
    assert info["step"] == step
    assert digest(model) == expected_digest
    assert scheduler.last_epoch == step


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is a POSIX signal")
def test_sigkill_during_checkpoint_writes_then_resume_matches_an_uninterrupted_run(
    tmp_path, one_thread
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / "ckpt"
    saved: tuple[int, str] | None = None  # the last checkpoint completely written
    reference = None
    done: tuple[int, str, str] | None  # steps, weights and losses at the end
    kills = 0
    for point in ["reference", *KILL_POINTS, "never"]:
        log = tmp_path / f"stderr-{point}.txt"
        with open(log, "w") as stderr_file:
            proc = _start(path, point, stderr_file)
        watchdog = threading.Timer(180, proc.kill)  # a lost child must not hang the tests
        watchdog.start()
        fault = saving = done = None  # what this child reports
        try:
            for line in proc.stdout:
                words = line.split() or [""]
                if words[0] == "SAVING":
                    saving = (int(words[1]), words[2])
                elif words[0] == "SAVED":
                    saved = (int(words[1]), words[2])
                elif words[0] == "FAULT":
                    fault = words[1]
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                elif words[0] == "DONE":
                    done = (int(words[1]), words[2], words[3])
            proc.wait()
        finally:
            watchdog.cancel()
        proc.stdout.close()
        stderr = log.read_text()

        if point in ("reference", "never"):
            assert proc.returncode == 0, stderr
            if point == "reference":
                reference = done
            continue
        assert fault == point, f"the child was not killed at {point}: {stderr}"
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        names = os.listdir(run_dir)
        # The kill really landed inside a save: its temporary or set-aside directory remains.
        if point in ("between-replaces", "after-switch"):
            assert any(n.startswith(".ckpt.old-") for n in names), names
            # Between the renames there is no checkpoint at `path`: the set-aside one loads.
            assert path.exists() == (point == "after-switch")
        else:
            assert any(n.startswith(".ckpt.tmp-") for n in names), names
        if point == "after-switch":
            saved = saving  # the new checkpoint was in place before the kill
        assert saved is not None
        # The last good checkpoint loads, with exactly the weights it was saved with; the
        # half-written one in the temporary directory is never taken for it.
        _check_latest(path, *saved)

    assert kills == len(KILL_POINTS) == 9
    # The resumed run ends where an uninterrupted run with the same seed ends, bit for bit:
    # the same weights and the same loss at every step (the reference ran in a fresh
    # process too, so no state of this test process can make them differ).
    assert reference is not None and reference[0] == STEPS
    assert done == reference
    from transformer_lib.utils.checkpoint import load_checkpoint

    model, optimizer, scheduler, _ = make_run(seed=1)
    info = load_checkpoint(path, model, optimizer=optimizer, scheduler=scheduler)
    assert info["step"] == STEPS
    assert digest(model) == reference[1]
    assert losses_digest(info["extra"]["losses"]) == reference[2]
    # The stray temporary and set-aside directories were cleaned up by later saves.
    assert os.listdir(run_dir) == ["ckpt"]


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
