"""Tests of the helpers around the attention code: seeding, devices, the lookup task, the
training loop, measuring time and memory, and the plots."""

import math
import random

import matplotlib

matplotlib.use("Agg")  # no display needed; must come before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import transformer_lib as tl  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------------
# Seeding and devices
# --------------------------------------------------------------------------------------------


def test_set_seed_repeats_torch_and_python_random():
    tl.set_seed(123)
    a, ra = torch.randn(5), random.random()
    tl.set_seed(123)
    b, rb = torch.randn(5), random.random()
    assert torch.equal(a, b)
    assert ra == rb
    tl.set_seed(124)
    assert not torch.equal(a, torch.randn(5))


def test_set_seed_returns_reproducible_generator():
    g1, g2 = tl.set_seed(7), tl.set_seed(7)
    assert isinstance(g1, torch.Generator)
    assert g1.initial_seed() == 7
    assert torch.equal(torch.randn(4, generator=g1), torch.randn(4, generator=g2))
    # The generator is its own stream: drawing from the global one does not move it.
    g3 = tl.set_seed(7)
    torch.randn(100)
    assert torch.equal(torch.randn(4, generator=g3), torch.randn(4, generator=tl.set_seed(7)))


@pytest.mark.parametrize("seed", ["x", 1.5, None, True])
def test_set_seed_rejects_non_int(seed):
    with pytest.raises(TypeError, match="seed"):
        tl.set_seed(seed)


def test_get_device_honours_preference():
    assert tl.get_device("cpu") == torch.device("cpu")
    assert tl.get_device(torch.device("cpu")) == torch.device("cpu")


def test_get_device_picks_best_available():
    device = tl.get_device()
    assert isinstance(device, torch.device)
    assert device.type in {"cuda", "mps", "cpu"}
    assert (device.type == "cuda") == torch.cuda.is_available()


# --------------------------------------------------------------------------------------------
# The key-value lookup task
# --------------------------------------------------------------------------------------------


def test_key_value_lookup_shapes_and_answers():
    batch = tl.key_value_lookup(
        64, num_pairs=6, num_queries=5, num_keys=10, num_values=7, generator=tl.set_seed(0)
    )
    assert isinstance(batch, tl.LookupBatch)
    assert batch.keys.shape == batch.values.shape == (64, 6)
    assert batch.queries.shape == batch.targets.shape == batch.positions.shape == (64, 5)
    for t in batch:
        assert t.dtype == torch.long
    assert batch.keys.min() >= 0 and batch.keys.max() < 10
    assert batch.values.min() >= 0 and batch.values.max() < 7
    assert batch.positions.min() >= 0 and batch.positions.max() < 6
    # Keys are distinct within each example.
    for row in batch.keys:
        assert len(set(row.tolist())) == 6
    assert torch.equal(batch.targets, batch.values.gather(1, batch.positions))
    assert torch.equal(batch.queries, batch.keys.gather(1, batch.positions))
    # Because keys are distinct, the query alone determines the position.
    found = (batch.queries[:, :, None] == batch.keys[:, None, :]).long().argmax(-1)
    assert torch.equal(found, batch.positions)


def test_key_value_lookup_is_reproducible_with_a_generator():
    a = tl.key_value_lookup(8, generator=torch.Generator().manual_seed(3))
    b = tl.key_value_lookup(8, generator=torch.Generator().manual_seed(3))
    c = tl.key_value_lookup(8, generator=torch.Generator().manual_seed(4))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_key_value_lookup_uses_all_keys_when_num_keys_equals_num_pairs():
    batch = tl.key_value_lookup(4, num_pairs=5, num_keys=5, generator=torch.Generator())
    assert torch.equal(batch.keys.sort(-1).values, torch.arange(5).expand(4, 5))


def test_key_value_lookup_device_argument():
    batch = tl.key_value_lookup(2, device="cpu")
    assert all(t.device.type == "cpu" for t in batch)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"num_pairs": 0}, "num_pairs"),
        ({"num_queries": -1}, "num_queries"),
        ({"num_values": 0}, "num_values"),
        ({"num_pairs": 8, "num_keys": 7}, "num_keys"),
    ],
)
def test_key_value_lookup_rejects_bad_arguments(kwargs, name):
    kwargs = {"batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        tl.key_value_lookup(**kwargs)


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------


def regression_setup(seed=0):
    """A linear model and batches of y = x @ w_true + b_true, which it can fit exactly."""
    g = tl.set_seed(seed)
    w_true, b_true = torch.randn(4, 1, generator=g), torch.randn(1, generator=g)

    def get_batch(step):
        x = torch.randn(32, 4, generator=g)
        return x, x @ w_true + b_true

    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    model = nn.Linear(4, 1)
    return model, get_batch, loss_fn


def test_shifted_copy_targets_are_the_tokens_shift_places_back():
    g = torch.Generator().manual_seed(0)
    tokens, targets = tl.shifted_copy(5, 12, shift=3, vocab_size=7, generator=g)
    assert tokens.shape == targets.shape == (5, 12)
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 7
    assert (targets[:, :3] == tl.IGNORE_INDEX).all()
    for i in range(3, 12):
        assert torch.equal(targets[:, i], tokens[:, i - 3])


def test_shifted_copy_targets_are_ignored_by_cross_entropy():
    tokens, targets = tl.shifted_copy(2, 6, shift=2, vocab_size=4)
    logits = torch.randn(2, 6, 4)
    full = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    answered = F.cross_entropy(logits[:, 2:].flatten(0, 1), targets[:, 2:].flatten())
    torch.testing.assert_close(full, answered)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(batch_size=0, seq_len=4), "batch_size"),
        (dict(batch_size=2, seq_len=4, shift=4), "shift"),
        (dict(batch_size=2, seq_len=4, shift=0), "shift"),
        (dict(batch_size=2, seq_len=4, vocab_size=0), "vocab_size"),
    ],
)
def test_shifted_copy_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tl.shifted_copy(**kwargs)


def test_train_fits_linear_regression():
    model, get_batch, loss_fn = regression_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = tl.train(model, get_batch, loss_fn, optimizer, steps=200, progress=False)
    assert len(losses) == 200
    assert all(isinstance(x, float) and math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] / 100
    assert model.training


def test_train_learns_the_lookup_task_with_one_attention_layer():
    """A single attention layer over (key, value) pairs answers lookup queries."""
    tl.set_seed(0)
    n_keys, n_values, d = 8, 8, 32
    g = torch.Generator().manual_seed(1)

    class Lookup(nn.Module):
        def __init__(self):
            super().__init__()
            self.key_emb = nn.Embedding(n_keys, d)
            self.value_emb = nn.Embedding(n_values, d)
            self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
            self.out = nn.Linear(d, n_values)

        def forward(self, batch):
            keys = self.key_emb(batch.keys)
            q = self.q_proj(self.key_emb(batch.queries))
            k = self.k_proj(keys)
            v = self.value_emb(batch.values)
            return self.out(tl.scaled_dot_product_attention(q, k, v))

    def get_batch(step):
        return tl.key_value_lookup(
            64, num_pairs=4, num_queries=4, num_keys=n_keys, num_values=n_values, generator=g
        )

    def loss_fn(model, batch):
        logits = model(batch)
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())

    model = Lookup()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = tl.train(model, get_batch, loss_fn, optimizer, steps=300, progress=False)
    assert losses[0] > 0.8 * math.log(n_values)  # starts near chance
    assert sum(losses[-20:]) / 20 < losses[0] / 4
    model.eval()
    with torch.no_grad():
        batch = get_batch(0)
        accuracy = (model(batch).argmax(-1) == batch.targets).float().mean()
    assert accuracy > 0.9


def test_train_with_progress_bar_and_scheduler():
    model, get_batch, loss_fn = regression_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    losses = tl.train(
        model, get_batch, loss_fn, optimizer, steps=30, scheduler=scheduler, progress=True
    )
    assert len(losses) == 30
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_train_clips_gradient_norm():
    model, get_batch, loss_fn = regression_setup()
    lr, clip = 0.1, 1e-3
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    tl.train(model, get_batch, loss_fn, optimizer, steps=1, clip_grad_norm=clip, progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    # One SGD step with a gradient clipped to norm `clip` moves the parameters by lr * clip.
    assert (after - before).norm() <= lr * clip * (1 + 1e-4)
    assert (after - before).norm() > 0

    losses = tl.train(
        model, get_batch, loss_fn, optimizer, steps=100, clip_grad_norm=1.0, progress=False
    )
    assert losses[-1] < losses[0] / 10


@pytest.mark.parametrize("steps", [0, -3, 2.0, True])
def test_train_rejects_bad_steps(steps):
    model, get_batch, loss_fn = regression_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        tl.train(model, get_batch, loss_fn, optimizer, steps=steps, progress=False)


def test_train_rejects_non_scalar_loss():
    model, get_batch, _ = regression_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def per_example_loss(model, batch):
        x, y = batch
        return (model(x) - y).square()

    with pytest.raises(ValueError, match="scalar"):
        tl.train(model, get_batch, per_example_loss, optimizer, steps=3, progress=False)


def test_train_raises_on_nan_loss():
    model, get_batch, loss_fn = regression_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def nan_at_step_2(model, batch):
        loss = loss_fn(model, batch)
        nan_at_step_2.calls += 1
        return loss * float("nan") if nan_at_step_2.calls == 3 else loss

    nan_at_step_2.calls = 0
    with pytest.raises(FloatingPointError, match="step 2"):
        tl.train(model, get_batch, nan_at_step_2, optimizer, steps=10, progress=False)


# --------------------------------------------------------------------------------------------
# Measuring time and memory
# --------------------------------------------------------------------------------------------


def test_peak_memory_of_one_allocation():
    peak = tl.peak_memory(lambda: torch.empty(1000, 1000))
    assert 4_000_000 <= peak < 5_000_000


def test_peak_memory_of_nothing_is_zero():
    x = torch.randn(100, 100)
    assert tl.peak_memory(lambda: None) == 0
    assert tl.peak_memory(lambda: x.view(-1)) == 0  # a view allocates nothing
    assert tl.peak_memory(lambda: x.mul_(1.0)) == 0  # nor does an in-place op


def test_peak_memory_counts_the_high_water_mark_not_the_sum():
    def allocate_and_free():
        for _ in range(5):
            a = torch.empty(1000, 1000)  # 4 MB, freed when the name is rebound
            del a

    peak = tl.peak_memory(allocate_and_free)
    assert 4_000_000 <= peak < 5_000_000

    def allocate_and_keep():
        kept = [torch.empty(1000, 1000) for _ in range(3)]
        return kept

    assert 12_000_000 <= tl.peak_memory(allocate_and_keep) < 13_000_000


def test_peak_memory_shows_explicit_attention_materialises_weights():
    q = k = v = torch.randn(1, 1, 512, 32)
    fused = tl.peak_memory(lambda: tl.scaled_dot_product_attention(q, k, v))
    explicit = tl.peak_memory(lambda: tl.scaled_dot_product_attention(q, k, v, return_weights=True))
    assert fused > 0
    assert explicit >= 512 * 512 * 4  # at least the (T, T) float32 weights
    assert explicit > 10 * fused


def test_time_call_returns_positive_seconds():
    seconds = tl.time_call(lambda: None, min_run_time=0.01)
    # Only the type and sign: speed is measured in benchmarks/, never asserted in tests.
    assert isinstance(seconds, float)
    assert seconds > 0


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def test_plot_attention_draws_the_matrix():
    weights = torch.rand(3, 5)
    ax = tl.plot_attention(weights)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.images) == 1
    image = ax.images[0].get_array()
    assert image.shape == (3, 5)
    torch.testing.assert_close(torch.as_tensor(image.data), weights)


def test_plot_attention_drops_leading_singleton_dims_and_draws_into_given_axes():
    weights = torch.rand(1, 1, 3, 5, requires_grad=True)
    _, ax = plt.subplots()
    returned = tl.plot_attention(weights, ax=ax, title="heads", annotate=True, colorbar=False)
    assert returned is ax
    assert ax.images[0].get_array().shape == (3, 5)
    assert ax.get_title() == "heads"
    assert len(ax.texts) == 15  # one annotation per cell


def test_plot_attention_of_a_bool_mask():
    ax = tl.plot_attention(tl.causal_mask(4))
    image = torch.as_tensor(ax.images[0].get_array().data)
    torch.testing.assert_close(image, tl.causal_mask(4).float())


def test_plot_attention_labels():
    ax = tl.plot_attention(torch.rand(2, 3), x_labels=["a", "b", "c"], y_labels=["x", "y"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]


@pytest.mark.parametrize(
    "kwargs", [{"x_labels": ["a", "b"]}, {"y_labels": ["a", "b", "c", "d"]}], ids=["x", "y"]
)
def test_plot_attention_rejects_wrong_label_count(kwargs):
    with pytest.raises(ValueError, match="labels"):
        tl.plot_attention(torch.rand(3, 5), **kwargs)


@pytest.mark.parametrize("shape", [(2, 3, 5), (5,), (1, 2, 3, 5)])
def test_plot_attention_rejects_non_matrix(shape):
    with pytest.raises(ValueError, match="weights"):
        tl.plot_attention(torch.rand(shape))


def test_plot_training_curve():
    losses = [1.0 / (i + 1) for i in range(100)]
    ax = tl.plot_training_curve(losses, label="x")
    assert isinstance(ax, matplotlib.axes.Axes)
    lines = ax.get_lines()
    assert len(lines) >= 1
    torch.testing.assert_close(
        torch.as_tensor(lines[0].get_ydata(), dtype=torch.float64),
        torch.tensor(losses, dtype=torch.float64),
    )
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x"]


def test_plot_training_curve_short_and_linear():
    _, ax = plt.subplots()
    returned = tl.plot_training_curve([3.0, 2.0, 1.0], ax=ax, log_scale=False, label="short")
    assert returned is ax
    assert len(ax.get_lines()) == 1  # too short for the running mean
    assert ax.get_yscale() == "linear"
    assert ax.get_lines()[0].get_label() == "short"


def test_plots_without_matplotlib_say_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        tl.plot_training_curve([1.0, 0.5])
    with pytest.raises(ImportError, match="pip install matplotlib"):
        tl.plot_attention(torch.rand(2, 2))
