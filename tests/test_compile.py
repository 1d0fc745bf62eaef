"""torch.compile on a small GPT: the compiled model computes what the eager one does.

Compiling on a CPU takes tens of seconds (inductor writes and builds C++ kernels; a second run
reuses its on-disk cache and is faster), so the whole file compiles one model once and every
test reuses it: the weights are parameters of the compiled graphs, not constants, so loading
new weights into the same module needs no recompilation.
"""

import copy
import shutil

import pytest
import torch
import torch.nn.functional as F

import transformer_lib as tl
from transformer_lib.training.optim import configure_optimizer

VOCAB, T, B = 64, 16, 4

# Inductor, torch.compile's default backend, builds C++ kernels for the CPU.
pytestmark = [
    pytest.mark.skipif(
        not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")),
        reason="torch.compile on the CPU needs a C++ compiler (g++ or clang++), and none is "
        "installed",
    ),
    pytest.mark.slow,  # compiling takes tens of seconds
]


def lm_loss(model, batch):
    x, y = batch
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def get_batch(i):
    """Counting sequences (each token is the previous one plus 1): learnable in a few steps."""
    g = torch.Generator().manual_seed(i)
    seq = (torch.randint(VOCAB, (B, 1), generator=g) + torch.arange(T + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


@pytest.fixture(scope="module")
def gpt():
    """``(model, compiled, initial_state)``: one GPT and its one compiled wrapper."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    config = tl.GPTConfig(vocab_size=VOCAB, max_len=T, d_model=32, num_heads=2, num_layers=2)
    model = tl.GPT(config).train()
    initial = copy.deepcopy(model.state_dict())
    return model, torch.compile(model), initial


def grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_compiled_logits_and_gradients_equal_eager(gpt, one_thread):
    model, compiled, initial = gpt
    model.load_state_dict(initial)
    batch = get_batch(0)

    model.zero_grad(set_to_none=True)
    eager_logits = model(batch[0])
    F.cross_entropy(eager_logits.flatten(0, 1), batch[1].flatten()).backward()
    eager_grads = grads(model)

    model.zero_grad(set_to_none=True)
    compiled_logits = compiled(batch[0])
    F.cross_entropy(compiled_logits.flatten(0, 1), batch[1].flatten()).backward()
    compiled_grads = grads(model)

    torch.testing.assert_close(compiled_logits, eager_logits, rtol=1e-5, atol=1e-5)
    assert compiled_grads.keys() == eager_grads.keys()
    for name in eager_grads:
        torch.testing.assert_close(
            compiled_grads[name], eager_grads[name], rtol=1e-4, atol=1e-6, msg=name
        )


def test_compiled_training_matches_eager(gpt, one_thread):
    model, _, initial = gpt
    runs = {}
    for compile in (False, True):
        model.load_state_dict(initial)
        optimizer = configure_optimizer(model, lr=1e-2)
        losses = tl.train(
            model, get_batch, lm_loss, optimizer, steps=6, compile=compile, progress=False
        )
        runs[compile] = (losses, copy.deepcopy(model.state_dict()))
    (eager_losses, eager_state), (compiled_losses, compiled_state) = runs[False], runs[True]
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4)
    assert compiled_losses[-1] < compiled_losses[0]
    for name in eager_state:
        if name.endswith("k_proj.bias"):
            # Its gradient is zero in exact arithmetic (softmax ignores a shift shared by all
            # keys) and rounding noise in practice, which Adam scales up to full-size steps.
            continue
        torch.testing.assert_close(
            compiled_state[name], eager_state[name], rtol=1e-3, atol=1e-4, msg=name
        )


def test_a_compiled_models_checkpoint_loads_into_a_plain_model(gpt, tmp_path, one_thread):
    model, compiled, initial = gpt
    model.load_state_dict(initial)
    # The compiled wrapper's state dict calls every key "_orig_mod.<name>"; train saves the
    # plain model inside, so the checkpoint loads into a model that was never compiled.
    assert all(k.startswith("_orig_mod.") for k in compiled.state_dict())
    tl.train(
        compiled,
        get_batch,
        lm_loss,
        configure_optimizer(model, lr=1e-2),
        steps=2,
        checkpoint_path=tmp_path / "ckpt",
        progress=False,
    )
    fresh = tl.GPT(model.config)
    tl.load_checkpoint(tmp_path / "ckpt", fresh)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_padding_mask_compiles_without_a_graph_break(one_thread):
    """Its range check reads values (a graph break): under torch.compile it is left out."""
    build = torch.compile(lambda lengths: tl.padding_mask(lengths, 6), fullgraph=True)
    lengths = torch.tensor([3, 6])
    assert torch.equal(build(lengths), tl.padding_mask(lengths, 6))
