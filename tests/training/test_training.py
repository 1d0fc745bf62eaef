"""Tests of the training loop's options: gradient accumulation, mixed precision, evaluation
hooks, checkpoints and exact resumption, and running without tqdm."""

import dataclasses
import math
import os
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer_lib.training import loop as training
from transformer_lib.training.loop import History, train


def regression_batch(index, batch_size=8):
    """A batch that is a pure function of its index, as resumption requires."""
    g = torch.Generator().manual_seed(1000 + index)
    x = torch.randn(batch_size, 4, generator=g)
    w = torch.arange(1.0, 5.0)[:, None]
    return x, x @ w + 0.5


def mse(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def flat_params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


class MLP(nn.Module):
    """A small model with dropout, so that resumption must restore the RNG to match."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


# --------------------------------------------------------------------------------------------
# Gradient accumulation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4])
def test_accumulation_equals_one_big_batch(k):
    b = 8
    torch.manual_seed(0)
    small = MLP()
    big = MLP()
    big.load_state_dict(small.state_dict())
    initial = flat_params(small)

    micro = [regression_batch(i, b) for i in range(k)]
    full = (torch.cat([x for x, _ in micro]), torch.cat([y for _, y in micro]))

    opt_small = torch.optim.SGD(small.parameters(), lr=0.05)
    opt_big = torch.optim.SGD(big.parameters(), lr=0.05)
    losses_small = train(
        small, lambda i: micro[i], mse, opt_small, steps=1, accumulation_steps=k, progress=False
    )
    losses_big = train(big, lambda i: full, mse, opt_big, steps=1, progress=False)

    assert not torch.allclose(flat_params(small), initial)  # the step did move the weights
    torch.testing.assert_close(flat_params(small), flat_params(big), rtol=1e-5, atol=1e-6)
    assert losses_small[0] == pytest.approx(losses_big[0], rel=1e-5)


def test_accumulation_calls_get_batch_once_per_micro_batch():
    calls = []

    def get_batch(i):
        calls.append(i)
        return regression_batch(i)

    model = MLP()
    train(
        model,
        get_batch,
        mse,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=3,
        accumulation_steps=2,
        progress=False,
    )
    assert calls == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(accumulation_steps=0), "accumulation_steps"),
        (dict(eval_every=0, eval_fn=lambda m: {}), "eval_every"),
        (dict(eval_every=2), "eval_fn"),
        (dict(checkpoint_every=2), "checkpoint_path"),
        (dict(amp="int8"), "amp"),
        (dict(log_every=0), "log_every"),
        (dict(compile="yes"), "compile"),
    ],
)
def test_train_rejects_bad_options(kwargs, name):
    model = MLP()
    with pytest.raises(ValueError, match=name):
        train(
            model,
            regression_batch,
            mse,
            torch.optim.SGD(model.parameters(), lr=0.01),
            steps=2,
            progress=False,
            **kwargs,
        )


# --------------------------------------------------------------------------------------------
# Mixed precision
# --------------------------------------------------------------------------------------------


def test_amp_bfloat16_on_cpu_runs_and_learns():
    torch.manual_seed(0)
    model = MLP()
    seen = []

    def loss_fn(model, batch):
        x, y = batch
        out = model(x)
        seen.append(out.dtype)
        return F.mse_loss(out.float(), y)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = train(model, regression_batch, loss_fn, optimizer, steps=150, amp=True, progress=False)
    assert set(seen) == {torch.bfloat16}  # the matmuls ran in bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32
    assert sum(losses[-10:]) / 10 < losses[0] / 20


def test_amp_float16_on_cpu_falls_back_with_a_warning():
    model = MLP()
    with pytest.warns(RuntimeWarning, match="full precision"):
        losses = train(
            model,
            regression_batch,
            mse,
            torch.optim.SGD(model.parameters(), lr=0.01),
            steps=2,
            amp="float16",
            progress=False,
        )
    assert len(losses) == 2


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="float16 autocast with a GradScaler runs on CUDA only, and no CUDA GPU is available",
)
def test_amp_float16_on_cuda_uses_a_grad_scaler_and_resumes(tmp_path):
    torch.manual_seed(0)
    model = MLP().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def get_batch(i):
        return tuple(t.cuda() for t in regression_batch(i))

    path = tmp_path / "c"
    losses = train(
        model,
        get_batch,
        mse,
        optimizer,
        steps=150,
        amp=True,
        progress=False,
        checkpoint_path=path,
        checkpoint_every=50,
    )
    assert sum(losses[-10:]) / 10 < losses[0] / 20
    state = torch.load(path / "training_state.pt", weights_only=True)
    assert "scale" in state["scaler"]  # float16 needed a GradScaler, and it was saved
    model2 = MLP().cuda()
    optimizer2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    again = train(
        model2,
        get_batch,
        mse,
        optimizer2,
        steps=150,
        amp=True,
        progress=False,
        checkpoint_path=path,
    )
    assert list(again) == list(losses)


# --------------------------------------------------------------------------------------------
# Evaluation hook
# --------------------------------------------------------------------------------------------


def test_eval_hook_history_and_train_mode():
    torch.manual_seed(0)
    model = MLP(dropout=0.1)
    val = regression_batch(-1, 64)
    modes = []

    def eval_fn(model):
        modes.append((model.training, torch.is_grad_enabled()))
        return {"val_loss": mse(model, val), "const": 1}

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = train(
        model,
        regression_batch,
        mse,
        optimizer,
        steps=25,
        eval_fn=eval_fn,
        eval_every=10,
        progress=False,
    )
    assert isinstance(history, History) and isinstance(history, list)
    assert len(history) == 25 and all(isinstance(x, float) for x in history)
    assert [s for s, _ in history.evals] == [10, 20, 25]
    for _, metrics in history.evals:
        assert set(metrics) == {"val_loss", "const"}
        assert all(type(v) is float for v in metrics.values())
    assert history.evals[-1][1]["val_loss"] < history.evals[0][1]["val_loss"]
    assert modes == [(False, False)] * 3  # eval mode, no gradients
    assert model.training  # restored afterwards


def test_eval_fn_without_eval_every_runs_once_at_the_end():
    model = MLP()
    history = train(
        model,
        regression_batch,
        mse,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=3,
        eval_fn=lambda m: {"x": 2.0},
        progress=False,
    )
    assert history.evals == [(3, {"x": 2.0})]


# --------------------------------------------------------------------------------------------
# Checkpoints and resumption
# --------------------------------------------------------------------------------------------


def make_run(seed=0):
    torch.manual_seed(seed)
    model = MLP(dropout=0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.7)
    return model, optimizer, scheduler


def test_resume_after_interruption_gives_identical_losses_and_weights(tmp_path):
    val = regression_batch(-1, 32)

    def eval_fn(model):
        return {"val_loss": mse(model, val)}

    options = dict(steps=10, progress=False, eval_fn=eval_fn, eval_every=4, accumulation_steps=2)

    model, optimizer, scheduler = make_run()
    reference = train(model, regression_batch, mse, optimizer, scheduler=scheduler, **options)
    reference_weights = flat_params(model)

    # The same run, killed during step 7 (micro-batch 14); checkpoints every 3 steps.
    def dies_at_step_7(i):
        if i == 14:
            raise KeyboardInterrupt
        return regression_batch(i)

    path = tmp_path / "run"
    model, optimizer, scheduler = make_run()
    with pytest.raises(KeyboardInterrupt):
        train(
            model,
            dies_at_step_7,
            mse,
            optimizer,
            scheduler=scheduler,
            checkpoint_path=path,
            checkpoint_every=3,
            **options,
        )
    assert (path / "config.json").exists()

    # "Restart the process": new objects with different initial weights, and a disturbed RNG.
    model, optimizer, scheduler = make_run(seed=123)
    torch.rand(1000)
    resumed = train(
        model,
        regression_batch,
        mse,
        optimizer,
        scheduler=scheduler,
        checkpoint_path=path,
        checkpoint_every=3,
        **options,
    )

    assert list(resumed) == list(reference)  # bit for bit, including dropout's randomness
    assert resumed.evals == reference.evals
    assert torch.equal(flat_params(model), reference_weights)
    assert scheduler.last_epoch == 10

    # Running again with the finished checkpoint does no more steps.
    model2, optimizer2, scheduler2 = make_run(seed=5)
    again = train(
        model2,
        regression_batch,
        mse,
        optimizer2,
        scheduler=scheduler2,
        checkpoint_path=path,
        **options,
    )
    assert list(again) == list(reference)
    assert torch.equal(flat_params(model2), reference_weights)


def test_checkpoint_every_saves_and_resume_false_starts_over(tmp_path, monkeypatch):
    from transformer_lib.utils.checkpoint import load_checkpoint

    path = tmp_path / "ckpt"
    steps_saved = []
    original = training.save_checkpoint

    def spy(*args, **kwargs):
        steps_saved.append(kwargs["step"])
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "save_checkpoint", spy)
    model, optimizer, _ = make_run()
    first = train(
        model,
        regression_batch,
        mse,
        optimizer,
        steps=7,
        checkpoint_path=path,
        checkpoint_every=3,
        progress=False,
    )
    assert steps_saved == [3, 6, 7]
    assert load_checkpoint(path, MLP())["step"] == 7
    model, optimizer, _ = make_run()
    fresh = train(
        model,
        regression_batch,
        mse,
        optimizer,
        steps=7,
        checkpoint_path=path,
        resume=False,
        progress=False,
    )
    assert len(fresh) == 7
    assert list(fresh) == list(first)  # started from scratch, same seed: the same run


def test_a_damaged_checkpoint_stops_the_resume_instead_of_starting_over(tmp_path):
    path = tmp_path / "ckpt"
    model, optimizer, _ = make_run()
    train(model, regression_batch, mse, optimizer, steps=3, checkpoint_path=path, progress=False)
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0x80  # one flipped bit in the weights
    (path / "model.safetensors").write_bytes(bytes(data))
    model, optimizer, _ = make_run()
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupted.*earlier checkpoint"):
        train(
            model, regression_batch, mse, optimizer, steps=6, checkpoint_path=path, progress=False
        )


def test_resume_past_the_requested_steps_is_an_error(tmp_path):
    path = tmp_path / "ckpt"
    model, optimizer, _ = make_run()
    train(model, regression_batch, mse, optimizer, steps=5, checkpoint_path=path, progress=False)
    with pytest.raises(ValueError, match="step 5"):
        train(
            model, regression_batch, mse, optimizer, steps=3, checkpoint_path=path, progress=False
        )


# --------------------------------------------------------------------------------------------
# Reproducibility: one seed fixes the initial weights, the dropout masks and the data order
# (resumption is tested above; a run killed while saving, in tests/test_faults.py)
# --------------------------------------------------------------------------------------------


def seeded_run(seed, deterministic=False, steps=12):
    """A run whose randomness all comes from ``set_seed``: weights, dropout, and a
    ``DataLoader`` that shuffles with the global generator. Returns losses, weights and the
    order in which the examples were seen."""
    from torch.utils.data import DataLoader, TensorDataset

    from transformer_lib.utils.seeding import set_seed

    g = set_seed(seed, deterministic=deterministic)
    x = torch.randn(40, 4, generator=g)
    dataset = TensorDataset(torch.arange(40), x, x @ torch.arange(1.0, 5.0)[:, None])
    loader = DataLoader(dataset, batch_size=8, shuffle=True)  # draws its order from torch
    model = MLP(dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen = []

    def batches():
        while True:
            yield from loader  # a new shuffle every epoch

    stream = batches()

    def get_batch(_):
        index, xb, yb = next(stream)
        seen.append(index)
        return xb, yb

    losses = train(model, get_batch, mse, optimizer, steps=steps, progress=False)
    return list(losses), flat_params(model), torch.cat(seen)


@pytest.fixture
def restore_determinism_settings(monkeypatch):
    """set_seed(deterministic=True) changes process-wide settings: put them back after."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2:]


def test_a_seeded_run_repeats_bit_for_bit_with_dropout_and_shuffling():
    losses, weights, order = seeded_run(0)
    again = seeded_run(0)
    assert again[0] == losses  # every step's loss, exactly
    assert torch.equal(again[1], weights)
    assert torch.equal(again[2], order)
    # The data really were shuffled (not in order, and each epoch anew) ...
    first, second = order[:40], order[40:80]
    assert not torch.equal(first, torch.arange(40))
    assert not torch.equal(first, second)
    assert torch.equal(first.sort().values, torch.arange(40))
    # ... and another seed gives another run.
    other = seeded_run(1)
    assert other[0] != losses
    assert not torch.equal(other[2], order)


def test_set_seed_deterministic_sets_the_switches(restore_determinism_settings, monkeypatch):
    from transformer_lib.utils.seeding import set_seed

    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    set_seed(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()  # an error, not a warning
    assert torch.backends.cudnn.benchmark is False
    assert torch.backends.cudnn.deterministic is True
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    # An operation without a deterministic kernel (put_ without accumulate, also on a CPU)
    # is refused, not run nondeterministically.
    with pytest.raises(RuntimeError, match="put_ does not have a deterministic implementation"):
        torch.zeros(3).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))
    # A value the user chose is kept; deterministic=False leaves the switches alone.
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    set_seed(0, deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    set_seed(0)
    assert torch.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="deterministic must be a bool, but got str"):
        set_seed(0, deterministic="yes")


def test_deterministic_mode_changes_nothing_for_a_gpt_on_a_cpu(restore_determinism_settings):
    """On a CPU, a GPT's training step (embeddings, attention, dropout, AdamW) already uses
    deterministic kernels only: the strict mode raises for none and gives the same run."""
    from transformer_lib.models.gpt import GPT, GPTConfig
    from transformer_lib.utils.seeding import set_seed

    def run(deterministic):
        g = set_seed(0, deterministic=deterministic)
        config = GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=2)
        model = GPT(dataclasses.replace(config, dropout=0.1))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        data = torch.randint(11, (6, 4, 8), generator=g)

        def lm_loss(model, x):
            return F.cross_entropy(model(x).flatten(0, 1), x.roll(1, -1).flatten())

        losses = train(model, lambda i: data[i], lm_loss, optimizer, steps=6, progress=False)
        return list(losses), flat_params(model)

    losses, weights = run(False)
    strict_losses, strict_weights = run(True)
    assert torch.are_deterministic_algorithms_enabled()
    assert strict_losses == losses
    assert torch.equal(strict_weights, weights)


# --------------------------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------------------------


def test_trains_without_tqdm_and_warns_once(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import tqdm` fail
    monkeypatch.setattr(training, "_WARNED_NO_TQDM", False)
    model = MLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with pytest.warns(UserWarning, match="tqdm") as record:
        losses = train(model, regression_batch, mse, optimizer, steps=3, progress=True)
        train(model, regression_batch, mse, optimizer, steps=3, progress=True)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert sum("tqdm" in str(w.message) for w in record) == 1


def test_progress_bar_with_eval_and_resume(tmp_path):
    model, optimizer, _ = make_run()
    history = train(
        model,
        regression_batch,
        mse,
        optimizer,
        steps=4,
        eval_fn=lambda m: {"a": 1},
        eval_every=2,
        checkpoint_path=tmp_path / "c",
        progress=True,
    )
    assert len(history) == 4 and len(history.evals) == 2


# --------------------------------------------------------------------------------------------
# No waiting for the device inside a step
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k, amp", [(1, False), (3, False), (2, "bfloat16")])
def test_history_holds_exactly_the_per_step_losses(k, amp):
    """The losses are read in batches now, but their values are what loss.item() gave."""
    torch.manual_seed(0)
    model = MLP()
    seen = []

    def loss_fn(model, batch):
        loss = mse(model, batch)
        seen.append(loss.item())  # the test may wait for the device; the loop does not
        return loss

    history = train(
        model,
        regression_batch,
        loss_fn,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=23,
        accumulation_steps=k,
        amp=amp,
        log_every=5,
        progress=False,
    )
    expected = []
    for step in range(23):
        total = 0.0
        for value in seen[step * k : (step + 1) * k]:
            total += value
        expected.append(total / k)
    assert list(history) == expected  # bit for bit
    assert all(type(x) is float for x in history)


def test_losses_are_copied_to_the_host_only_every_log_every_steps(monkeypatch):
    reads = {"item": 0, "tolist": 0, "float": 0}
    for name, method in (("item", "item"), ("tolist", "tolist"), ("float", "__float__")):
        original = getattr(torch.Tensor, method)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            reads[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, spy)
    model = MLP()
    # SGD: Adam reads its step counter with .item() (a CPU tensor, so no real wait).
    history = train(
        model,
        regression_batch,
        mse,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=25,
        clip_grad_norm=1.0,
        log_every=10,
        progress=False,
    )
    assert len(history) == 25
    assert reads == {"item": 0, "tolist": 3, "float": 0}  # after steps 10, 20 and 25


def test_a_nan_loss_is_found_at_the_next_read_and_named_by_its_step():
    model = MLP()
    calls = []

    def get_batch(i):
        calls.append(i)
        return regression_batch(i)

    def nan_at_step_2(model, batch):
        loss = mse(model, batch)
        return loss * float("nan") if len(calls) == 3 else loss

    with pytest.raises(FloatingPointError, match="at step 2"):
        train(
            model,
            get_batch,
            nan_at_step_2,
            torch.optim.SGD(model.parameters(), lr=0.01),
            steps=20,
            log_every=5,
            progress=False,
        )
    assert calls == [0, 1, 2, 3, 4]  # stopped at the first read after the NaN


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="host-device synchronisation is only observable on a CUDA GPU, and none is available",
)
def test_no_cuda_synchronisation_inside_the_steps():
    torch.manual_seed(0)
    model = MLP().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator(device="cuda")

    def get_batch(i):
        gen.manual_seed(i)
        x = torch.randn(8, 4, device="cuda", generator=gen)
        return x, x.sum(dim=1, keepdim=True)

    train(model, get_batch, mse, optimizer, steps=2, progress=False)  # warm up lazy init
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            train(model, get_batch, mse, optimizer, steps=30, log_every=10, progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in record if "synchroniz" in str(w.message)]
    assert len(syncs) <= 3 + 2  # the three reads of the losses, and a little slack


# --------------------------------------------------------------------------------------------
# Wrapped models: torch.compile and DistributedDataParallel
# --------------------------------------------------------------------------------------------


class FakeCompiled(nn.Module):
    """Stands in for torch.compile's OptimizedModule: a wrapper with an ``_orig_mod``."""

    def __init__(self, model):
        super().__init__()
        self._orig_mod = model

    def forward(self, x):
        return self._orig_mod(x)


def test_compile_option_compiles_the_training_steps_only(monkeypatch, tmp_path):
    compiled = []

    def fake_compile(model, **kwargs):
        compiled.append(model)
        return FakeCompiled(model)

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = MLP()
    seen_by_loss, seen_by_eval = set(), set()

    def loss_fn(m, batch):
        seen_by_loss.add(type(m))
        return mse(m, batch)

    def eval_fn(m):
        seen_by_eval.add(type(m))
        return {}

    train(
        model,
        regression_batch,
        loss_fn,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=3,
        compile=True,
        eval_fn=eval_fn,
        checkpoint_path=tmp_path / "c",
        progress=False,
    )
    assert compiled == [model]
    assert seen_by_loss == {FakeCompiled} and seen_by_eval == {MLP}
    from transformer_lib.utils.checkpoint import load_checkpoint

    load_checkpoint(tmp_path / "c", MLP())  # plain keys, without "_orig_mod."


@pytest.fixture
def single_process_group(tmp_path):
    """A one-process gloo group, enough to wrap a model in DistributedDataParallel."""
    import torch.distributed as dist

    if not dist.is_available():
        pytest.skip("this PyTorch build has no torch.distributed")
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def test_ddp_model_accumulates_without_sync_and_saves_plain_checkpoints(
    single_process_group, tmp_path, monkeypatch
):
    torch.manual_seed(0)
    plain = MLP()
    reference = MLP()
    reference.load_state_dict(plain.state_dict())
    ddp = nn.parallel.DistributedDataParallel(plain)
    syncs_skipped = []
    original_no_sync = nn.parallel.DistributedDataParallel.no_sync

    def spy_no_sync(self):
        syncs_skipped.append(1)
        return original_no_sync(self)

    monkeypatch.setattr(nn.parallel.DistributedDataParallel, "no_sync", spy_no_sync)
    options = dict(steps=4, accumulation_steps=3, progress=False)
    history = train(
        ddp,
        regression_batch,
        mse,
        torch.optim.SGD(ddp.parameters(), lr=0.05),
        checkpoint_path=tmp_path / "c",
        **options,
    )
    expected = train(
        reference,
        regression_batch,
        mse,
        torch.optim.SGD(reference.parameters(), lr=0.05),
        **options,
    )
    assert len(syncs_skipped) == 4 * 2  # all but the last micro-batch of each step
    assert list(history) == list(expected)
    assert torch.equal(flat_params(plain), flat_params(reference))
    assert history.checkpoints == [4]
    from transformer_lib.utils.checkpoint import load_checkpoint

    fresh = MLP()
    load_checkpoint(tmp_path / "c", fresh)  # keys without "module."
    assert torch.equal(flat_params(fresh), flat_params(plain))
