"""Tests of configure_optimizer: which parameters decay, each parameter once, fused == unfused."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import transformer_lib as tl
from transformer_lib.training.optim import _fused_supported, configure_optimizer, parameter_groups


def small_gpt(**overrides):
    torch.manual_seed(0)
    options = dict(vocab_size=64, max_len=16, d_model=32, num_heads=2, num_layers=2)
    return tl.GPT(tl.GPTConfig(**{**options, **overrides}))


def ids(params):
    return [id(p) for p in params]


def test_matrices_decay_and_vectors_do_not():
    model = small_gpt()
    optimizer = configure_optimizer(model, lr=1e-3, weight_decay=0.05)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    names = {id(p): name for name, p in model.named_parameters()}
    decay_names = {names[id(p)] for p in decay["params"]}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "tok_embed.weight" in decay_names  # embeddings are matrices
    assert "pos_embed.embedding.weight" in decay_names
    assert "blocks.0.attn.q_proj.weight" in decay_names
    assert "blocks.1.mlp.linear2.weight" in decay_names
    assert "blocks.0.attn.q_proj.bias" in no_decay_names
    assert "blocks.0.ln_1.weight" in no_decay_names and "ln_f.bias" in no_decay_names
    assert all(p.ndim >= 2 for p in decay["params"])
    assert all(p.ndim < 2 for p in no_decay["params"])


def test_each_parameter_exactly_once_and_tied_weights_counted_once():
    model = small_gpt(tie_embeddings=True)
    assert model.lm_head.weight is model.tok_embed.weight
    decay, no_decay = parameter_groups(model)
    every = ids(decay) + ids(no_decay)
    assert len(every) == len(set(every))  # no parameter twice
    assert set(every) == {id(p) for p in model.parameters()}  # none missing
    assert sum(p.numel() for p in decay + no_decay) == model.num_parameters()
    assert ids(decay).count(id(model.tok_embed.weight)) == 1

    untied = small_gpt(tie_embeddings=False)
    decay_untied, _ = parameter_groups(untied)
    assert len(decay_untied) == len(decay) + 1  # the separate output head


def test_frozen_parameters_are_left_out():
    model = small_gpt()
    for p in model.tok_embed.parameters():
        p.requires_grad_(False)
    optimizer = configure_optimizer(model, lr=1e-3)
    held = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert id(model.tok_embed.weight) not in held
    assert len(held) == sum(1 for p in model.parameters() if p.requires_grad)


def test_passes_the_hyperparameters_on():
    optimizer = configure_optimizer(
        small_gpt(), lr=3e-4, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.0, fused=False
    )
    assert isinstance(optimizer, torch.optim.AdamW)
    for group in optimizer.param_groups:
        assert group["lr"] == 3e-4 and group["betas"] == (0.8, 0.99) and group["eps"] == 1e-6
        assert not group["fused"]


def test_fused_none_picks_the_fused_kernel_where_supported():
    model = small_gpt()
    optimizer = configure_optimizer(model, lr=1e-3)
    assert bool(optimizer.defaults["fused"]) == _fused_supported(list(model.parameters()))


def test_fused_and_unfused_reach_the_same_parameters():
    if not _fused_supported([torch.zeros(1)]):
        pytest.skip(f"PyTorch {torch.__version__} has no fused AdamW on the CPU")
    # Without biases: a key projection's bias has a gradient of exactly zero in theory (softmax
    # ignores a shift shared by all keys), ~1e-11 of rounding noise in practice, and Adam
    # divides that noise by its own size, so the two kernels' rounding would decide its sign.
    models = [small_gpt(bias=False), small_gpt(bias=False)]
    optimizers = [
        configure_optimizer(m, lr=1e-2, fused=f) for m, f in zip(models, (True, False), strict=True)
    ]
    assert optimizers[0].defaults["fused"] and not optimizers[1].defaults["fused"]
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        idx = torch.randint(64, (4, 16), generator=g)
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            logits = model(idx[:, :-1])
            F.cross_entropy(logits.flatten(0, 1), idx[:, 1:].flatten()).backward()
            optimizer.step()
    start = small_gpt(bias=False)
    for (name, a), b, p0 in zip(
        models[0].named_parameters(), models[1].parameters(), start.parameters(), strict=True
    ):
        assert not torch.equal(a, p0), name  # every parameter moved
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lr=0), "lr"),
        (dict(lr="1e-3"), "lr"),
        (dict(lr=1e-3, weight_decay=-0.1), "weight_decay"),
        (dict(lr=1e-3, betas=(0.9,)), "betas"),
        (dict(lr=1e-3, betas=(0.9, 1.0)), r"betas\[1\]"),
        (dict(lr=1e-3, eps=0.0), "eps"),
        (dict(lr=1e-3, fused="yes"), "fused"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        configure_optimizer(small_gpt(), **kwargs)


def test_bad_models_are_refused():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        configure_optimizer([torch.zeros(2)], lr=1e-3)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        configure_optimizer(frozen, lr=1e-3)
