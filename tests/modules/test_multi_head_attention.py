"""Tests of multi-head attention and its key/value cache
(transformer_lib.modules.multi_head_attention).

The independent references are PyTorch's ``nn.MultiheadAttention`` (with our weights copied
into it), a Python loop over heads that calls the chapter-1 attention function once per head,
and, for grouped key/value heads, an ordinary multi-head module whose key/value weights are the
grouped ones repeated per group.
"""

import math

import pytest
import torch
from seeded import randn
from torch import nn

import transformer_lib as tl

D, H = 16, 4
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


def make_mha(d_model=D, num_heads=H, *, seed=0, dtype=torch.float32, **kwargs):
    """An eval-mode module with random weights *and* random (non-zero) biases."""
    torch.manual_seed(seed)
    mha = tl.MultiHeadAttention(d_model, num_heads, **kwargs).to(dtype).eval()
    with torch.no_grad():
        for p in mha.parameters():
            p.normal_(0, 0.3)
    return mha


def torch_twin(mha):
    """``nn.MultiheadAttention`` holding the same weights as our module."""
    ref = nn.MultiheadAttention(
        mha.d_model, mha.num_heads, dropout=0.0, bias=mha.q_proj.bias is not None, batch_first=True
    )
    ref = ref.to(mha.q_proj.weight.dtype).eval()
    d = mha.d_model
    with torch.no_grad():
        ref.in_proj_weight[:d].copy_(mha.q_proj.weight)
        ref.in_proj_weight[d : 2 * d].copy_(mha.k_proj.weight)
        ref.in_proj_weight[2 * d :].copy_(mha.v_proj.weight)
        ref.out_proj.weight.copy_(mha.out_proj.weight)
        if mha.q_proj.bias is not None:
            ref.in_proj_bias[:d].copy_(mha.q_proj.bias)
            ref.in_proj_bias[d : 2 * d].copy_(mha.k_proj.bias)
            ref.in_proj_bias[2 * d :].copy_(mha.v_proj.bias)
            ref.out_proj.bias.copy_(mha.out_proj.bias)
    return ref


# --------------------------------------------------------------------------------------------
# Parity with torch.nn.MultiheadAttention
# --------------------------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_self_attention_matches_torch(dtype, bias):
    mha = make_mha(dtype=dtype, bias=bias)
    ref = torch_twin(mha)
    x = randn(3, 7, D, dtype=dtype)
    out, weights = mha(x, return_weights=True)
    ref_out, ref_avg = ref(x, x, x)
    _, ref_per_head = ref(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    assert weights.shape == (3, H, 7, 7)
    torch.testing.assert_close(weights, ref_per_head)
    torch.testing.assert_close(weights.mean(dim=1), ref_avg)
    # The fused path (no weights requested) gives the same output.
    torch.testing.assert_close(mha(x), ref_out)
    assert out.dtype == dtype


@DTYPES
@pytest.mark.parametrize("T_q,T_k", [(3, 8), (8, 3), (1, 5)])
def test_cross_attention_matches_torch(dtype, T_q, T_k):
    mha = make_mha(dtype=dtype)
    ref = torch_twin(mha)
    q = randn(2, T_q, D, seed=1, dtype=dtype)
    k = randn(2, T_k, D, seed=2, dtype=dtype)
    v = randn(2, T_k, D, seed=3, dtype=dtype)
    out, weights = mha(q, k, v, return_weights=True)
    ref_out, _ = ref(q, k, v)
    _, ref_w = ref(q, k, v, average_attn_weights=False)
    assert out.shape == (2, T_q, D)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_w)
    torch.testing.assert_close(mha(q, k, v), ref_out)


def test_value_defaults_to_key():
    mha = make_mha(dtype=torch.float64)
    q = randn(2, 3, D, seed=1, dtype=torch.float64)
    k = randn(2, 5, D, seed=2, dtype=torch.float64)
    torch.testing.assert_close(mha(q, k), torch_twin(mha)(q, k, k)[0])


@DTYPES
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_key_padding_matches_torch(dtype, cross):
    mha = make_mha(dtype=dtype)
    ref = torch_twin(mha)
    T_k = 6
    lengths = torch.tensor([6, 4, 1])
    q = randn(3, 4 if cross else T_k, D, seed=1, dtype=dtype)
    kv = randn(3, T_k, D, seed=2, dtype=dtype) if cross else q
    ours_mask = tl.padding_mask(lengths, T_k)  # True = attend
    torch_mask = ~ours_mask[:, 0, 0, :]  # (B, T_k), True = ignore
    out, weights = mha(q, kv, kv, ours_mask, return_weights=True)
    ref_out, _ = ref(q, kv, kv, key_padding_mask=torch_mask)
    _, ref_w = ref(q, kv, kv, key_padding_mask=torch_mask, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_w)
    torch.testing.assert_close(mha(q, kv, kv, ours_mask), ref_out)
    assert (weights[1, ..., 4:] == 0).all() and (weights[2, ..., 1:] == 0).all()


@DTYPES
@pytest.mark.parametrize("how", ["is_causal", "mask"])
def test_causal_matches_torch(dtype, how):
    mha = make_mha(dtype=dtype)
    ref = torch_twin(mha)
    T = 7
    x = randn(2, T, D, seed=4, dtype=dtype)
    kwargs = {"is_causal": True} if how == "is_causal" else {"mask": tl.causal_mask(T)}
    out, weights = mha(x, return_weights=True, **kwargs)
    ref_out, ref_avg = ref(x, x, x, attn_mask=~tl.causal_mask(T))
    _, ref_w = ref(x, x, x, attn_mask=~tl.causal_mask(T), average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_w)
    torch.testing.assert_close(weights.mean(1), ref_avg)
    torch.testing.assert_close(mha(x, **kwargs), ref_out)
    assert (weights.triu(diagonal=1) == 0).all()


@DTYPES
def test_causal_and_padding_together_match_torch(dtype):
    mha = make_mha(dtype=dtype)
    ref = torch_twin(mha)
    T = 6
    x = randn(2, T, D, seed=5, dtype=dtype)
    pad = tl.padding_mask(torch.tensor([6, 3]), T)
    out = mha(x, mask=pad, is_causal=True)
    ref_out, _ = ref(x, x, x, attn_mask=~tl.causal_mask(T), key_padding_mask=~pad[:, 0, 0])
    torch.testing.assert_close(out, ref_out)


def test_per_head_mask_of_shape_B_H_Tq_Tk():
    mha = make_mha(dtype=torch.float64)
    x = randn(2, 5, D, dtype=torch.float64)
    mask = torch.rand(2, H, 5, 5, generator=torch.Generator().manual_seed(6)) < 0.7
    mask |= torch.eye(5, dtype=torch.bool)  # every query keeps at least itself
    ref = torch_twin(mha)
    ref_out, _ = ref(x, x, x, attn_mask=~mask.reshape(2 * H, 5, 5))  # torch: (B*H, T, T)
    torch.testing.assert_close(mha(x, mask=mask), ref_out)


# --------------------------------------------------------------------------------------------
# A loop over heads, with the chapter-1 function
# --------------------------------------------------------------------------------------------


def loop_over_heads(mha, query, key, value, mask=None, is_causal=False):
    d_head = mha.d_head
    heads = []
    for h in range(mha.num_heads):
        rows = slice(h * d_head, (h + 1) * d_head)

        def project(linear, x, rows=rows):
            b = linear.bias[rows] if linear.bias is not None else None
            return nn.functional.linear(x, linear.weight[rows], b)

        q, k, v = project(mha.q_proj, query), project(mha.k_proj, key), project(mha.v_proj, value)
        heads.append(tl.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal))
    return mha.out_proj(torch.cat(heads, dim=-1))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("case", ["self", "cross", "causal"])
def test_loop_over_heads_equals_batched_heads(case, bias):
    mha = make_mha(dtype=torch.float64, bias=bias)
    x = randn(2, 6, D, seed=1, dtype=torch.float64)
    if case == "self":
        args, kwargs = (x, x, x), {}
    elif case == "cross":
        kv = randn(2, 9, D, seed=2, dtype=torch.float64)
        args, kwargs = (x, kv, kv), {}
    else:
        args, kwargs = (x, x, x), {"is_causal": True}
    torch.testing.assert_close(mha(*args, **kwargs), loop_over_heads(mha, *args, **kwargs))


# --------------------------------------------------------------------------------------------
# Grouped-query and multi-query attention
# --------------------------------------------------------------------------------------------


def full_head_twin(gqa):
    """An ordinary MHA whose key/value heads are the grouped heads repeated per group."""
    group = gqa.num_heads // gqa.num_kv_heads
    full = tl.MultiHeadAttention(gqa.d_model, gqa.num_heads, bias=gqa.q_proj.bias is not None)
    full = full.to(gqa.q_proj.weight.dtype).eval()

    def repeat(t):  # (H_kv * d_head, ...) -> (H * d_head, ...), each head block `group` times
        blocks = t.reshape(gqa.num_kv_heads, gqa.d_head, *t.shape[1:])
        return blocks.repeat_interleave(group, dim=0).reshape(gqa.d_model, *t.shape[1:])

    with torch.no_grad():
        full.q_proj.load_state_dict(gqa.q_proj.state_dict())
        full.out_proj.load_state_dict(gqa.out_proj.state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(full, name)
            dst.weight.copy_(repeat(src.weight))
            if src.bias is not None:
                dst.bias.copy_(repeat(src.bias))
    return full


@pytest.mark.parametrize("num_kv_heads", [2, 1], ids=["gqa", "mqa"])
@pytest.mark.parametrize("case", ["self", "cross", "causal+padding"])
def test_grouped_kv_heads_equal_repeated_full_heads(num_kv_heads, case):
    gqa = make_mha(num_kv_heads=num_kv_heads, dtype=torch.float64)
    full = full_head_twin(gqa)
    x = randn(3, 5, D, seed=1, dtype=torch.float64)
    kv = randn(3, 8, D, seed=2, dtype=torch.float64) if case == "cross" else x
    kwargs = {}
    if case == "causal+padding":
        kwargs = {"mask": tl.padding_mask(torch.tensor([5, 2, 4]), 5), "is_causal": True}
    out, weights = gqa(x, kv, kv, return_weights=True, **kwargs)
    ref_out, ref_weights = full(x, kv, kv, return_weights=True, **kwargs)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_weights)
    torch.testing.assert_close(gqa(x, kv, kv, **kwargs), ref_out)


@pytest.mark.parametrize("num_kv_heads", [4, 2, 1])
def test_grouped_kv_heads_shrink_the_key_value_projections(num_kv_heads):
    d, heads = 32, 4
    mha = tl.MultiHeadAttention(d, heads, num_kv_heads=num_kv_heads)
    shrink = heads // num_kv_heads
    for name in ("k_proj", "v_proj"):
        linear = getattr(mha, name)
        assert linear.weight.shape == (d // shrink, d)
        assert sum(p.numel() for p in linear.parameters()) == (d * d + d) // shrink
    assert mha.q_proj.weight.shape == mha.out_proj.weight.shape == (d, d)
    assert mha(randn(2, 3, d)).shape == (2, 3, d)


def test_queries_of_one_group_use_the_same_key_head():
    """Changing key head 0 changes only the first group of query heads' weights."""
    gqa = make_mha(num_kv_heads=2, dtype=torch.float64)  # heads 0,1 -> kv 0; heads 2,3 -> kv 1
    x = randn(2, 5, D, seed=1, dtype=torch.float64)
    _, before = gqa(x, return_weights=True)
    with torch.no_grad():
        gqa.k_proj.weight[: gqa.d_head] += randn(gqa.d_head, D, seed=9, dtype=torch.float64)
    _, after = gqa(x, return_weights=True)
    assert not torch.allclose(before[:, :2], after[:, :2])
    torch.testing.assert_close(before[:, 2:], after[:, 2:])


# --------------------------------------------------------------------------------------------
# Key/value cache
# --------------------------------------------------------------------------------------------

CACHE_CONFIGS = {
    "mha": {},
    "gqa": {"num_kv_heads": 2},
    "mqa": {"num_kv_heads": 1},
    "rope": {"rope": True},
    "gqa+rope": {"num_kv_heads": 2, "rope": True},
}


@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("config", CACHE_CONFIGS.values(), ids=CACHE_CONFIGS.keys())
@pytest.mark.parametrize("capacity", [None, 4, 16])
def test_incremental_decoding_with_cache_equals_full_causal(config, chunk, capacity):
    mha = make_mha(dtype=torch.float64, **config)
    T = 10
    x = randn(2, T, D, seed=3, dtype=torch.float64)
    full = mha(x, is_causal=True)
    cache = tl.KVCache(capacity)  # 4: outgrows its room and reallocates; 16: never does
    assert len(cache) == 0
    outs = []
    for start in range(0, T, chunk):
        piece = x[:, start : start + chunk]
        outs.append(mha(piece, cache=cache, is_causal=True))
        seen = min(start + chunk, T)
        assert len(cache) == seen
        assert cache.key.shape == (2, mha.num_kv_heads, seen, mha.d_head)
        assert cache.value.shape == cache.key.shape
    torch.testing.assert_close(torch.cat(outs, dim=1), full)


def test_cache_with_return_weights_gives_lower_right_causal_rows():
    mha = make_mha(dtype=torch.float64)
    x = randn(2, 6, D, seed=3, dtype=torch.float64)
    _, full_w = mha(x, is_causal=True, return_weights=True)
    cache = tl.KVCache()
    mha(x[:, :4], cache=cache, is_causal=True)
    _, w = mha(x[:, 4:], cache=cache, is_causal=True, return_weights=True)
    assert w.shape == (2, H, 2, 6)
    torch.testing.assert_close(w, full_w[:, :, 4:])


def test_cache_update_appends_and_rejects_other_batch():
    cache = tl.KVCache()
    k1, v1 = randn(2, 3, 4, 8, seed=1), randn(2, 3, 4, 8, seed=2)
    k, v = cache.update(k1, v1)
    assert torch.equal(k, k1) and torch.equal(v, v1) and len(cache) == 4
    k2, v2 = randn(2, 3, 1, 8, seed=3), randn(2, 3, 1, 8, seed=4)
    k, v = cache.update(k2, v2)
    assert len(cache) == 5
    torch.testing.assert_close(k, torch.cat([k1, k2], dim=-2))
    torch.testing.assert_close(v, torch.cat([v1, v2], dim=-2))
    with pytest.raises(ValueError, match="cache"):
        cache.update(randn(3, 3, 1, 8), randn(3, 3, 1, 8))
    with pytest.raises(ValueError, match="cache"):
        cache.update(randn(2, 1, 1, 8), randn(2, 1, 1, 8))
    assert len(cache) == 5  # a rejected update leaves the cache as it was


def test_module_with_cache_rejects_another_batch_size():
    mha = make_mha()
    cache = tl.KVCache()
    mha(randn(2, 3, D), cache=cache, is_causal=True)
    with pytest.raises(ValueError, match="cache"):
        mha(randn(3, 1, D), cache=cache, is_causal=True)


# --------------------------------------------------------------------------------------------
# RoPE inside the module
# --------------------------------------------------------------------------------------------


def test_rope_scores_depend_only_on_relative_offset():
    """Identical tokens: with RoPE the score of (i, j) is a function of i - j alone.

    Softmax rows normalise differently, so compare log-weight differences within each row:
    log w[i, j] - log w[i, i] = s(j - i) - s(0).
    """
    mha = make_mha(dtype=torch.float64, rope=True)
    T = 8
    x = randn(1, 1, D, seed=7, dtype=torch.float64).expand(2, T, D)
    _, w = mha(x, return_weights=True)
    logw = w.log()
    rel = logw - logw.diagonal(dim1=-2, dim2=-1)[..., :, None]  # (B, H, T, T)
    for k in range(-(T - 1), T):
        diag = rel.diagonal(offset=k, dim1=-2, dim2=-1)  # entries (i, i + k)
        torch.testing.assert_close(diag, diag[..., :1].expand_as(diag), atol=1e-5, rtol=1e-5)
    # Positions matter: the weights are not uniform (they would be without RoPE).
    assert not torch.allclose(w, torch.full_like(w, 1 / T))
    _, w_plain = make_mha(dtype=torch.float64)(x, return_weights=True)
    torch.testing.assert_close(w_plain, torch.full_like(w_plain, 1 / T))


def test_rope_off_by_default_and_on_when_asked():
    assert tl.MultiHeadAttention(D, H).rotary is None
    mha = tl.MultiHeadAttention(D, H, rope=True)
    assert isinstance(mha.rotary, tl.RotaryEmbedding)
    assert mha.rotary.d_head == D // H
    assert "rope=True" in repr(mha)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------


def test_dropout_only_in_training_mode():
    mha = make_mha(dropout=0.5)
    no_dropout = make_mha(dropout=0.0)
    no_dropout.load_state_dict(mha.state_dict())
    x = randn(4, 6, D, seed=1)
    mha.eval()
    a, b = mha(x), mha(x)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, no_dropout(x))
    _, w = mha(x, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, H, 6))
    mha.train()
    torch.manual_seed(0)
    c, d = mha(x), mha(x)
    assert not torch.allclose(c, d)
    assert not torch.allclose(c, a)
    _, w = mha(x, return_weights=True)
    assert (w == 0).any()


# --------------------------------------------------------------------------------------------
# Heads: split and merge
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_heads", [1, 2, 4, 8])
def test_split_and_merge_heads_round_trip(num_heads):
    mha = tl.MultiHeadAttention(D, num_heads)
    d_head = D // num_heads
    x = randn(3, 5, D)
    heads = mha.split_heads(x, num_heads)
    assert heads.shape == (3, num_heads, 5, d_head)
    for h in range(num_heads):
        torch.testing.assert_close(heads[:, h], x[..., h * d_head : (h + 1) * d_head])
    assert torch.equal(mha.merge_heads(heads), x)
    assert torch.equal(tl.MultiHeadAttention.merge_heads(heads), x)


# --------------------------------------------------------------------------------------------
# Gradients, shapes, dtypes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", CACHE_CONFIGS.values(), ids=CACHE_CONFIGS.keys())
def test_gradcheck_float64(config):
    mha = tl.MultiHeadAttention(8, 2, **config).double()
    x = randn(2, 4, 8, seed=2, dtype=torch.float64).requires_grad_()
    mask = tl.padding_mask(torch.tensor([4, 2]), 4)
    # fast_mode checks random projections of the Jacobian: the full one costs seconds on a CPU.
    assert torch.autograd.gradcheck(
        lambda x: mha(x, mask=mask, is_causal=True), (x,), fast_mode=True
    )


def test_parameters_get_finite_gradients_with_dead_rows():
    mha = make_mha()
    x = randn(2, 4, D, seed=2)
    mask = tl.padding_mask(torch.tensor([0, 3]), 4)  # example 0 has no keys at all
    out = mha(x, mask=mask)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for name, p in mha.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def test_parameter_names_and_count():
    mha = tl.MultiHeadAttention(D, H)
    names = {n for n, _ in mha.named_parameters()}
    assert names == {f"{p}.{w}" for p in PROJECTIONS for w in ("weight", "bias")}
    for p in PROJECTIONS:
        assert isinstance(getattr(mha, p), nn.Linear)
    assert sum(p.numel() for p in mha.parameters()) == 4 * (D * D + D)
    ref = nn.MultiheadAttention(D, H, batch_first=True)
    assert sum(p.numel() for p in mha.parameters()) == sum(p.numel() for p in ref.parameters())
    no_bias = tl.MultiHeadAttention(D, H, bias=False)
    assert sum(p.numel() for p in no_bias.parameters()) == 4 * D * D


def test_scores_use_inverse_sqrt_d_head():
    mha = make_mha(dtype=torch.float64)
    x = randn(1, 5, D, seed=8, dtype=torch.float64)
    _, w = mha(x, return_weights=True)
    q = mha.split_heads(mha.q_proj(x), H)
    k = mha.split_heads(mha.k_proj(x), H)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // H), dim=-1)
    torch.testing.assert_close(w, expected)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kwargs,pattern",
    [
        ((10, 3), {}, "num_heads"),
        ((16, 0), {}, "num_heads"),
        ((16, 4), {"num_kv_heads": 3}, "num_kv_heads"),
        ((16, 4), {"num_kv_heads": 0}, "num_kv_heads"),
        ((16, 4), {"num_kv_heads": 8}, "num_kv_heads"),
        ((16.0, 4), {}, "d_model"),
        (("16", 4), {}, "d_model"),
        ((True, 1), {}, "d_model"),
        ((16, 4), {"dropout": -0.1}, "dropout"),
        ((16, 4), {"dropout": 1.0}, "dropout"),
        ((16, 4), {"dropout": float("nan")}, "dropout"),
    ],
)
def test_bad_constructor_arguments_raise(args, kwargs, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        tl.MultiHeadAttention(*args, **kwargs)


def _bad_calls():
    x = randn(2, 5, D)
    return {
        "wrong feature size": ((randn(2, 5, D + 1),), {}, ValueError, "d_model"),
        "2-D query": ((randn(5, D),), {}, ValueError, "query"),
        "4-D query": ((randn(1, 2, 5, D),), {}, ValueError, "query"),
        "query not a tensor": ((x.tolist(),), {}, TypeError, "query"),
        "key wrong feature size": ((x, randn(2, 5, D - 1)), {}, ValueError, "key"),
        "value wrong feature size": ((x, x, randn(2, 5, 8)), {}, ValueError, "value"),
        "key batch mismatch": ((x, randn(3, 5, D), randn(3, 5, D)), {}, ValueError, "batch"),
        "key/value length mismatch": ((x, randn(2, 5, D), randn(2, 4, D)), {}, ValueError, "value"),
        "3-D mask": ((x,), {"mask": torch.ones(2, 5, 5, dtype=torch.bool)}, ValueError, "mask"),
        "mask wrong size": ((x,), {"mask": torch.ones(5, 4, dtype=torch.bool)}, ValueError, "mask"),
        "integer mask": ((x,), {"mask": torch.ones(5, 5, dtype=torch.long)}, TypeError, "mask"),
    }


BAD_CALLS = _bad_calls()


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
@pytest.mark.parametrize("case", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_forward_input_raises_naming_the_argument(case, return_weights):
    args, kwargs, error, pattern = case
    mha = make_mha()
    with pytest.raises(error, match=pattern):
        mha(*args, return_weights=return_weights, **kwargs)


def test_rope_refuses_cross_attention():
    mha = tl.MultiHeadAttention(16, 2, rope=True)
    x, memory = torch.randn(1, 3, 16), torch.randn(1, 5, 16)
    mha(x)  # self-attention is fine
    with pytest.raises(ValueError, match="self-attention"):
        mha(x, memory)


def test_preallocated_cache_writes_in_place_and_reorders_like_a_plain_one():
    k, v = randn(3, 2, 5, 4, seed=1), randn(3, 2, 5, 4, seed=2)
    plain, room = tl.KVCache(), tl.KVCache(capacity=8)
    for cache in (plain, room):
        cache.update(k[:, :, :2], v[:, :, :2])
    buffer = room._key
    for cache in (plain, room):
        cache.update(k[:, :, 2:], v[:, :, 2:])
    assert room._key is buffer and buffer.shape[-2] == 8  # no new allocation
    for cache in (plain, room):
        torch.testing.assert_close(cache.key, k)
        torch.testing.assert_close(cache.value, v)
        # Beam search keeps the surviving beams by reassigning key and value.
        index = torch.tensor([2, 0])
        cache.key, cache.value = (
            cache.key.index_select(0, index),
            cache.value.index_select(0, index),
        )
        cache.update(k[:2, :, :1], v[:2, :, :1])
        assert len(cache) == 6 and cache.key.shape == (2, 2, 6, 4)
    torch.testing.assert_close(room.key, plain.key)
    torch.testing.assert_close(room.value, plain.value)


@pytest.mark.parametrize("capacity", [0, -1, 2.0, True])
def test_cache_capacity_must_be_a_positive_int(capacity):
    with pytest.raises(ValueError, match="capacity must be a positive int or None"):
        tl.KVCache(capacity)
