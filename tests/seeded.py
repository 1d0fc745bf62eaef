"""Seeded random inputs and models shared by the test files (the tests folder is on the import
path through its conftest.py, so any test file can ``from seeded import ...``)."""

import torch

import transformer_lib as tl


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def randint(high, shape, seed=0, low=0):
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed))


def randomize_(module, seed=0, std=0.3):
    """Random values in every parameter (norm weights near 1) so that copies are not trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype) * std
            is_norm_weight = "norm" in name.lower() and name.endswith("weight")
            p.copy_(1 + noise if is_norm_weight else noise)
    return module


def small_transformer(positional="sinusoidal", seed=0, **kwargs):
    """An encoder-decoder Transformer of width 16 for vocabularies of 11 and 13 ids."""
    torch.manual_seed(seed)
    args = dict(d_model=16, num_heads=2, num_layers=2, d_ff=32, dropout=0.0, max_len=20)
    args.update(kwargs)
    return tl.Transformer(11, 13, positional=positional, **args).eval()
