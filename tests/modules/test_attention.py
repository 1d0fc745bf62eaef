"""Tests of scaled dot-product attention and its masks (transformer_lib.modules.attention).

The independent references are PyTorch's own ``F.scaled_dot_product_attention`` and a softmax
written out by hand in float64. Both of our paths are checked: the fused default and the
explicit path that ``return_weights=True`` takes.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import transformer_lib as tl

NEG_INF = float("-inf")


def make_qkv(lead=(), T_q=5, T_k=5, d_k=8, d_v=8, dtype=torch.float32, requires_grad=False):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(*lead, T_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, T_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, T_k, d_v, generator=g, dtype=dtype)
    return tuple(t.requires_grad_(requires_grad) for t in (q, k, v))


def both_paths(q, k, v, mask=None, **kwargs):
    """Our output on the fused path, and (output, weights) on the explicit path."""
    fused = tl.scaled_dot_product_attention(q, k, v, mask, **kwargs)
    explicit, weights = tl.scaled_dot_product_attention(
        q, k, v, mask, return_weights=True, **kwargs
    )
    return fused, explicit, weights


def allowed_of(mask, scores_shape):
    """Boolean "may attend" tensor of the scores' full shape, for a bool or additive mask."""
    allowed = mask if mask.dtype == torch.bool else ~torch.isneginf(mask)
    return allowed.expand(scores_shape)


def reference(q, k, v, mask=None, scale=None):
    """Output and weights computed independently, in float64.

    The output comes from ``F.scaled_dot_product_attention``; the weights from a softmax written
    out by hand. Query rows without any allowed key are set to zero (the library's convention).
    """
    q64, k64, v64 = (t.detach().double() for t in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q64 @ k64.transpose(-2, -1) * scale
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, NEG_INF)
        else:
            scores = scores + mask.double()
    weights = scores.exp() / scores.exp().sum(-1, keepdim=True)  # NaN where a row is all -inf
    m = None
    if mask is not None:  # PyTorch wants at least (T_q, T_k), so expand the mask fully
        m = (
            mask.expand(scores.shape)
            if mask.dtype == torch.bool
            else mask.double().expand_as(scores)
        )
    out = F.scaled_dot_product_attention(q64, k64, v64, attn_mask=m, scale=scale)
    if mask is not None:
        dead = ~allowed_of(mask, scores.shape).any(-1, keepdim=True)
        weights = weights.masked_fill(dead, 0.0)
        out = out.masked_fill(dead, 0.0)
    return out.to(q.dtype), weights.to(q.dtype)


def assert_attention_matches(q, k, v, mask=None, scale=None, **kwargs):
    fused, explicit, weights = both_paths(q, k, v, mask, scale=scale, **kwargs)
    ref_out, ref_weights = reference(q, k, v, mask, scale)
    torch.testing.assert_close(fused, ref_out)
    torch.testing.assert_close(explicit, ref_out)
    torch.testing.assert_close(weights, ref_weights)
    torch.testing.assert_close(fused, explicit)
    assert fused.dtype == explicit.dtype == weights.dtype == q.dtype
    return fused, explicit, weights


# --------------------------------------------------------------------------------------------
# Parity with PyTorch over shapes and dtypes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("d_k,d_v", [(8, 8), (4, 6)], ids=["dk=dv", "dk!=dv"])
@pytest.mark.parametrize("T_q,T_k", [(5, 5), (3, 7), (7, 3), (1, 4)])
@pytest.mark.parametrize("lead", [(), (3,), (2, 4)], ids=["no-batch", "B", "B,H"])
def test_parity_without_mask(lead, T_q, T_k, d_k, d_v, dtype):
    q, k, v = make_qkv(lead, T_q, T_k, d_k, d_v, dtype)
    fused, explicit, weights = assert_attention_matches(q, k, v)
    assert fused.shape == (*lead, T_q, d_v)
    assert weights.shape == (*lead, T_q, T_k)
    torch.testing.assert_close(weights.sum(-1), torch.ones(*lead, T_q, dtype=dtype))


B, H, T_Q, T_K = 2, 3, 4, 6
MASK_SHAPES = {
    "(T_q,T_k)": (T_Q, T_K),
    "(T_k,)": (T_K,),
    "(B,1,1,T_k)": (B, 1, 1, T_K),
    "(B,1,T_q,1)": (B, 1, T_Q, 1),
    "(1,H,T_q,T_k)": (1, H, T_Q, T_K),
    "(B,H,T_q,T_k)": (B, H, T_Q, T_K),
    "(H,1,T_k)": (H, 1, T_K),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", MASK_SHAPES.values(), ids=MASK_SHAPES.keys())
def test_parity_bool_mask_broadcasts(shape, dtype):
    q, k, v = make_qkv((B, H), T_Q, T_K, 8, 5, dtype)
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(1)) < 0.6
    fused, _, weights = assert_attention_matches(q, k, v, mask)
    allowed = allowed_of(mask, weights.shape)
    live = allowed.any(-1)
    assert live.any()
    torch.testing.assert_close(weights.sum(-1)[live], torch.ones_like(weights.sum(-1)[live]))
    assert (weights[~allowed] == 0).all()


@pytest.mark.parametrize("mask_dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", MASK_SHAPES.values(), ids=MASK_SHAPES.keys())
def test_parity_float_additive_mask(shape, mask_dtype):
    q, k, v = make_qkv((B, H), T_Q, T_K, 8, 5)
    g = torch.Generator().manual_seed(2)
    mask = torch.randn(shape, generator=g, dtype=mask_dtype)
    mask = mask.masked_fill(torch.rand(shape, generator=g) < 0.3, NEG_INF)
    fused, explicit, weights = assert_attention_matches(q, k, v, mask)
    # A float64 mask must not promote float32 inputs.
    assert fused.dtype == explicit.dtype == weights.dtype == torch.float32


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
def test_scalar_mask_broadcasts_to_everything(return_weights):
    q, k, v = make_qkv((2,), 4, 6)

    def attend(mask):
        result = tl.scaled_dot_product_attention(q, k, v, mask, return_weights=return_weights)
        return result[0] if return_weights else result

    torch.testing.assert_close(attend(torch.tensor(True)), attend(None))
    torch.testing.assert_close(attend(torch.tensor(0.0)), attend(None))
    assert (attend(torch.tensor(False)) == 0).all()


def test_float_mask_of_zeros_changes_nothing_and_bias_shifts_attention():
    q, k, v = make_qkv((2,), 4, 6)
    torch.testing.assert_close(
        tl.scaled_dot_product_attention(q, k, v, torch.zeros(4, 6)),
        tl.scaled_dot_product_attention(q, k, v),
    )
    bias = torch.zeros(4, 6)
    bias[:, 2] = 100.0  # an enormous bias makes key 2 take all the attention
    out, weights = tl.scaled_dot_product_attention(q, k, v, bias, return_weights=True)
    torch.testing.assert_close(out, v[:, 2:3].expand(2, 4, 8))
    torch.testing.assert_close(weights[..., 2], torch.ones(2, 4))


@pytest.mark.parametrize("scale", [0.1, 1.0, 2.5])
@pytest.mark.parametrize("with_mask", [False, True])
def test_custom_scale(scale, with_mask):
    q, k, v = make_qkv((2, 2), 5, 5, 4, 4, torch.float64)
    mask = tl.causal_mask(5) if with_mask else None
    assert_attention_matches(q, k, v, mask, scale=scale)


def test_default_scale_is_inverse_sqrt_dk():
    q, k, v = make_qkv((3,), 4, 4, 16, 16, torch.float64)
    torch.testing.assert_close(
        tl.scaled_dot_product_attention(q, k, v),
        tl.scaled_dot_product_attention(q, k, v, scale=0.25),
    )
    assert not torch.allclose(
        tl.scaled_dot_product_attention(q, k, v),
        tl.scaled_dot_product_attention(q, k, v, scale=1.0),
    )


def test_weights_match_hand_written_softmax_and_output_is_weights_times_values():
    q, k, v = make_qkv((2,), 3, 4, 5, 2, torch.float64)
    out, weights = tl.scaled_dot_product_attention(q, k, v, return_weights=True)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(5), dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(out, expected @ v)


# --------------------------------------------------------------------------------------------
# Causal attention
# --------------------------------------------------------------------------------------------


def lower_right_mask(T_q, T_k):
    """Query i sits at position T_k - T_q + i and may see keys up to and including it."""
    return torch.arange(T_k)[None, :] <= torch.arange(T_q)[:, None] + (T_k - T_q)


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
def test_is_causal_equals_causal_mask(lead):
    q, k, v = make_qkv(lead, 6, 6, 4, 4, torch.float64)
    flag = both_paths(q, k, v, is_causal=True)
    explicit_mask = both_paths(q, k, v, tl.causal_mask(6))
    for a, b in zip(flag, explicit_mask, strict=True):
        torch.testing.assert_close(a, b)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(flag[0], ref)
    torch.testing.assert_close(flag[1], ref)
    assert (flag[2].triu(diagonal=1) == 0).all()


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
def test_causality_future_keys_do_not_change_earlier_outputs(return_weights):
    T = 7
    q, k, v = make_qkv((2, 2), T, T, 4, 3, torch.float64)

    def attend(k, v):
        out = tl.scaled_dot_product_attention(
            q, k, v, is_causal=True, return_weights=return_weights
        )
        return out[0] if return_weights else out

    base = attend(k, v)
    for i in range(T - 1):
        k2, v2 = k.clone(), v.clone()
        k2[..., i + 1 :, :] = torch.randn_like(k2[..., i + 1 :, :]) * 10
        v2[..., i + 1 :, :] = torch.randn_like(v2[..., i + 1 :, :]) * 10
        changed = attend(k2, v2)
        torch.testing.assert_close(changed[..., : i + 1, :], base[..., : i + 1, :])
        assert not torch.allclose(changed[..., i + 1, :], base[..., i + 1, :])


@pytest.mark.parametrize("T_q,T_k", [(1, 6), (3, 6), (5, 6)])
def test_causal_with_fewer_queries_aligns_lower_right(T_q, T_k):
    q, k, v = make_qkv((2, 2), T_q, T_k, 4, 4, torch.float64)
    mask = lower_right_mask(T_q, T_k)
    fused, explicit, weights = both_paths(q, k, v, is_causal=True)
    ref_out, ref_weights = reference(q, k, v, mask)
    torch.testing.assert_close(fused, ref_out)
    torch.testing.assert_close(explicit, ref_out)
    torch.testing.assert_close(weights, ref_weights)


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
def test_kv_cache_last_query_equals_last_row_of_full_causal(return_weights):
    """Decoding one token with a cache of all keys gives the full causal result's last row."""
    T = 9
    q, k, v = make_qkv((2, 3), T, T, 8, 8)
    full = tl.scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=return_weights)
    step = tl.scaled_dot_product_attention(
        q[..., -1:, :], k, v, is_causal=True, return_weights=return_weights
    )
    if return_weights:
        (full, full_w), (step, step_w) = full, step
        torch.testing.assert_close(step_w, full_w[..., -1:, :])
    torch.testing.assert_close(step, full[..., -1:, :])
    # The last three queries at once also match the last three rows.
    last3 = tl.scaled_dot_product_attention(q[..., -3:, :], k, v, is_causal=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(last3, ref[..., -3:, :])


@pytest.mark.parametrize("T_q,T_k", [(6, 6), (2, 6)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_causal_combined_with_padding_mask(T_q, T_k, kind):
    lengths = torch.tensor([6, 3, 1])
    q, k, v = make_qkv((3, 2), T_q, T_k, 4, 5, torch.float64)
    pad = tl.padding_mask(lengths, T_k)
    mask = pad if kind == "bool" else torch.zeros(pad.shape).masked_fill(~pad, NEG_INF)
    fused, explicit, weights = both_paths(q, k, v, mask, is_causal=True)
    combined = pad & lower_right_mask(T_q, T_k)
    ref_out, ref_weights = reference(q, k, v, combined)
    torch.testing.assert_close(fused, ref_out)
    torch.testing.assert_close(explicit, ref_out)
    torch.testing.assert_close(weights, ref_weights)
    # No weight ever lands on padding or on the future.
    assert (weights[~combined.expand_as(weights)] == 0).all()


# --------------------------------------------------------------------------------------------
# Fully masked query rows: zero, never NaN, finite gradients
# --------------------------------------------------------------------------------------------


def dead_row_cases():
    T_q, T_k = 4, 5
    bool_mask = torch.ones(T_q, T_k, dtype=torch.bool)
    bool_mask[1] = False
    bool_mask[3, 2:] = False
    float_mask = torch.zeros(T_q, T_k)
    float_mask[2] = NEG_INF
    float_mask[0, :3] = NEG_INF
    padding = tl.padding_mask(torch.tensor([0, 3]), T_k)  # example 0 has no keys at all
    return {
        "bool row": (T_q, T_k, bool_mask, False, torch.tensor([False, True, False, False])),
        "float -inf row": (T_q, T_k, float_mask, False, torch.tensor([False, False, True, False])),
        "empty padding": (T_q, T_k, padding, False, None),
        "causal T_q>T_k": (6, 3, None, True, torch.tensor([True] * 3 + [False] * 3)),
    }


DEAD_CASES = dead_row_cases()


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
@pytest.mark.parametrize("case", DEAD_CASES.values(), ids=DEAD_CASES.keys())
def test_fully_masked_rows_are_zero_with_finite_gradients(case, return_weights):
    T_q, T_k, mask, is_causal, dead = case
    q, k, v = make_qkv((2, 2), T_q, T_k, 4, 3, requires_grad=True)
    if dead is None:  # the padding case: every query of example 0 is dead
        dead = torch.tensor([True, False])[:, None, None].expand(2, 2, T_q)
    dead = dead.expand(2, 2, T_q)
    result = tl.scaled_dot_product_attention(
        q, k, v, mask, is_causal=is_causal, return_weights=return_weights
    )
    out, weights = result if return_weights else (result, None)
    assert torch.isfinite(out).all()
    assert (out[dead] == 0).all()
    if weights is not None:
        assert torch.isfinite(weights).all()
        assert (weights[dead] == 0).all()
        live_sums = weights.sum(-1)[~dead]
        torch.testing.assert_close(live_sums, torch.ones_like(live_sums))
    # The live rows still equal the reference.
    full_mask = mask
    if is_causal:
        full_mask = lower_right_mask(T_q, T_k)
    ref_out, _ = reference(q, k, v, full_mask)
    torch.testing.assert_close(out.detach(), ref_out)

    (out.square().sum() + (0 if weights is None else weights.square().sum())).backward()
    for t in (q, k, v):
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()
    assert (q.grad[dead] == 0).all()  # a dead row's output is a constant zero


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------


def _gradcheck_cases():
    bool_mask = torch.rand(3, 4, generator=torch.Generator().manual_seed(3)) < 0.5
    bool_mask[:, 0] = True
    bool_mask[2] = False  # and one dead row
    float_mask = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    float_mask[1, 1:] = NEG_INF
    float_mask[2] = NEG_INF  # a dead row
    return {
        "no mask": (3, 4, None, False),
        "bool mask": (3, 4, bool_mask, False),
        "float mask": (3, 4, float_mask, False),
        "causal": (4, 4, None, True),
        "causal T_q>T_k": (4, 3, None, True),
        "causal + bool mask": (3, 4, bool_mask, True),
    }


GRADCHECK_CASES = _gradcheck_cases()


@pytest.mark.parametrize("case", GRADCHECK_CASES.values(), ids=GRADCHECK_CASES.keys())
@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
def test_gradcheck_float64(return_weights, case):
    T_q, T_k, mask, is_causal = case
    q, k, v = make_qkv((), T_q, T_k, 3, 2, torch.float64, requires_grad=True)

    def attend(q, k, v):
        return tl.scaled_dot_product_attention(
            q, k, v, mask, is_causal=is_causal, return_weights=return_weights
        )

    assert torch.autograd.gradcheck(attend, (q, k, v))


def test_gradients_of_both_paths_agree():
    q, k, v = make_qkv((2, 2), 5, 5, 4, 4, torch.float64, requires_grad=True)
    mask = torch.rand(5, 5, generator=torch.Generator().manual_seed(5)) < 0.7
    grads = []
    for return_weights in (False, True):
        result = tl.scaled_dot_product_attention(q, k, v, mask, return_weights=return_weights)
        out = result[0] if return_weights else result
        grads.append(torch.autograd.grad(out.sin().sum(), (q, k, v)))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
def test_dropout_zero_is_deterministic(return_weights):
    q, k, v = make_qkv((2, 2), 5, 5)
    a = tl.scaled_dot_product_attention(q, k, v, dropout_p=0.0, return_weights=return_weights)
    b = tl.scaled_dot_product_attention(q, k, v, dropout_p=0.0, return_weights=return_weights)
    for x, y in zip(a if return_weights else (a,), b if return_weights else (b,), strict=True):
        assert torch.equal(x, y)


def test_dropout_explicit_is_unbiased_and_zeroes_weights():
    N, T, d, p = 4000, 4, 4, 0.5
    q, k, v = make_qkv((1,), T, T, d, d, torch.float64)
    expected, expected_w = tl.scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.manual_seed(0)
    out, weights = tl.scaled_dot_product_attention(
        q.expand(N, T, d), k.expand(N, T, d), v.expand(N, T, d), dropout_p=p, return_weights=True
    )
    zero = weights == 0
    assert zero.any()
    assert 0.4 < zero.double().mean() < 0.6
    # Kept weights are scaled by 1 / (1 - p), so that the expectation is unchanged.
    torch.testing.assert_close(weights[~zero], (expected_w.expand_as(weights) / (1 - p))[~zero])
    torch.testing.assert_close(out, weights @ v)
    torch.testing.assert_close(out.mean(0, keepdim=True), expected, atol=0.05, rtol=0)
    assert not torch.allclose(out[0], out[1])
    # Seeded draws repeat.
    torch.manual_seed(0)
    again, _ = tl.scaled_dot_product_attention(
        q.expand(N, T, d), k.expand(N, T, d), v.expand(N, T, d), dropout_p=p, return_weights=True
    )
    assert torch.equal(out, again)


def test_dropout_fused_is_unbiased():
    N, T, d = 4000, 4, 4
    q, k, v = make_qkv((1,), T, T, d, d, torch.float64)
    expected = tl.scaled_dot_product_attention(q, k, v)
    torch.manual_seed(0)
    out = tl.scaled_dot_product_attention(
        q.expand(N, T, d), k.expand(N, T, d), v.expand(N, T, d), dropout_p=0.5
    )
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(out.mean(0, keepdim=True), expected, atol=0.05, rtol=0)


# --------------------------------------------------------------------------------------------
# Half precision and autocast
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16], ids=["bf16", "f16"])
@pytest.mark.parametrize("masked", [False, True])
def test_half_precision_inputs(half, masked):
    q, k, v = make_qkv((2, 2), 6, 6, 16, 16)
    mask = tl.causal_mask(6) if masked else None
    ref_out, ref_weights = reference(q, k, v, mask)
    fused, explicit, weights = both_paths(q.to(half), k.to(half), v.to(half), mask)
    assert fused.dtype == explicit.dtype == weights.dtype == half
    for got, want in ((fused, ref_out), (explicit, ref_out), (weights, ref_weights)):
        torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=3e-2)


def test_half_precision_softmax_of_large_scores():
    # Scores of +-1000: exp() of them overflows float16, the softmax must still be exact.
    q = torch.tensor([[10.0, 0.0]], dtype=torch.float16)
    k = torch.tensor([[100.0, 0.0], [-100.0, 0.0]], dtype=torch.float16)
    v = torch.tensor([[1.0], [2.0]], dtype=torch.float16)
    out, weights = tl.scaled_dot_product_attention(q, k, v, scale=1.0, return_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    torch.testing.assert_close(weights.float(), torch.tensor([[1.0, 0.0]]))


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_works_under_cpu_autocast(mask_kind):
    q, k, v = make_qkv((2, 2), 6, 6, 16, 16)
    mask = {
        "none": None,
        "bool": tl.causal_mask(6),
        "float": torch.zeros(6, 6).masked_fill(~tl.causal_mask(6), NEG_INF),
    }[mask_kind]
    ref_out, ref_weights = reference(q, k, v, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused, explicit, weights = both_paths(q, k, v, mask)
    for got, want in ((fused, ref_out), (explicit, ref_out), (weights, ref_weights)):
        assert got.dtype in (torch.bfloat16, torch.float32)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=3e-2)
    # Autocast really ran the matmuls in bfloat16.
    assert fused.dtype == explicit.dtype == torch.bfloat16


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def _qkv(lead=(2,), T_q=4, T_k=5, d_k=8, d_v=6):
    return make_qkv(lead, T_q, T_k, d_k, d_v)


BAD_INPUTS = {
    "mask does not broadcast": (
        lambda: (*_qkv(), torch.ones(4, 3, dtype=torch.bool)),
        {},
        ValueError,
        "mask",
    ),
    "mask swaps T_q and T_k": (
        lambda: (*_qkv(), torch.ones(5, 4, dtype=torch.bool)),
        {},
        ValueError,
        "mask",
    ),
    "mask with more dims than scores": (
        lambda: (*_qkv(), torch.ones(3, 2, 4, 5, dtype=torch.bool)),
        {},
        ValueError,
        "mask",
    ),
    "mask of a bigger batch": (
        lambda: (*_qkv(), torch.ones(3, 4, 5, dtype=torch.bool)),
        {},
        ValueError,
        "mask",
    ),
    "integer mask": (lambda: (*_qkv(), torch.ones(4, 5, dtype=torch.long)), {}, TypeError, "mask"),
    "mask not a tensor": (lambda: (*_qkv(), [[True] * 5] * 4), {}, TypeError, "mask"),
    "d_k mismatch": (lambda: (*_qkv()[:1], *_qkv(d_k=7)[1:]), {}, ValueError, "d_k"),
    "key/value length mismatch": (
        lambda: (*_qkv()[:2], make_qkv((2,), 4, 6, 8, 6)[2]),
        {},
        ValueError,
        "value",
    ),
    "1-D query": (lambda: (torch.randn(8), *_qkv()[1:]), {}, ValueError, "query"),
    "1-D key": (lambda: (_qkv()[0], torch.randn(8), _qkv()[2]), {}, ValueError, "key"),
    "different ranks": (
        lambda: (_qkv()[0], *make_qkv((), 4, 5, 8, 6)[1:]),
        {},
        ValueError,
        "dimensions",
    ),
    "different dtypes": (
        lambda: (_qkv()[0].double(), *_qkv()[1:]),
        {},
        TypeError,
        "dtype",
    ),
    "query not a tensor": (lambda: (_qkv()[0].tolist(), *_qkv()[1:]), {}, TypeError, "query"),
    "value not a tensor": (lambda: (*_qkv()[:2], None), {}, TypeError, "value"),
    "integer query": (lambda: (_qkv()[0].long(), *_qkv()[1:]), {}, TypeError, "query"),
    "integer key": (lambda: (_qkv()[0], _qkv()[1].int(), _qkv()[2]), {}, TypeError, "key"),
    "mismatched batch dims": (
        lambda: (_qkv()[0], *make_qkv((3,), 4, 5, 8, 6)[1:]),
        {},
        ValueError,
        "query, key and value",
    ),
    "dropout_p negative": (lambda: (*_qkv(), None), {"dropout_p": -0.1}, ValueError, "dropout_p"),
    "dropout_p one": (lambda: (*_qkv(), None), {"dropout_p": 1.0}, ValueError, "dropout_p"),
    "dropout_p above one": (lambda: (*_qkv(), None), {"dropout_p": 1.5}, ValueError, "dropout_p"),
    "dropout_p NaN": (
        lambda: (*_qkv(), None),
        {"dropout_p": float("nan")},
        ValueError,
        "dropout_p",
    ),
}


@pytest.mark.parametrize("return_weights", [False, True], ids=["fused", "explicit"])
@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_raises_naming_the_argument(case, return_weights):
    make_args, kwargs, error, pattern = case
    with pytest.raises(error, match=pattern):
        tl.scaled_dot_product_attention(*make_args(), return_weights=return_weights, **kwargs)


@pytest.mark.parametrize("T", [-1, 2.0, "4", True, None])
def test_causal_mask_rejects_bad_sizes(T):
    with pytest.raises((ValueError, TypeError), match="T"):
        tl.causal_mask(T)


@pytest.mark.parametrize(
    "lengths,max_len,error",
    [
        (torch.tensor([1.0, 2.0]), 4, TypeError),
        (torch.tensor([True, False]), 4, TypeError),
        ([1, 2], 4, TypeError),
        (torch.tensor([[1, 2]]), 4, ValueError),
        (torch.tensor(2), 4, ValueError),
        (torch.tensor([1, 5]), 4, ValueError),
        (torch.tensor([-1, 2]), 4, ValueError),
    ],
    ids=["float", "bool", "list", "2-D", "0-D", "too long", "negative"],
)
def test_padding_mask_rejects_bad_lengths(lengths, max_len, error):
    with pytest.raises(error, match="lengths"):
        tl.padding_mask(lengths, max_len)


@pytest.mark.parametrize("max_len", [-1, 2.5, None])
def test_padding_mask_rejects_bad_max_len(max_len):
    with pytest.raises((ValueError, TypeError), match="max_len"):
        tl.padding_mask(torch.tensor([1, 2]), max_len)


# --------------------------------------------------------------------------------------------
# The masks themselves
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [0, 1, 4, 7])
def test_causal_mask_values(T):
    mask = tl.causal_mask(T)
    assert mask.dtype == torch.bool
    assert mask.shape == (T, T)
    assert mask.device.type == "cpu"
    for i in range(T):
        for j in range(T):
            assert bool(mask[i, j]) == (j <= i)


def test_causal_mask_device_argument():
    assert tl.causal_mask(3, device="cpu").device == torch.device("cpu")
    assert tl.causal_mask(3, device=torch.device("cpu")).device.type == "cpu"
    if torch.cuda.is_available():
        assert tl.causal_mask(3, device="cuda").device.type == "cuda"


def test_padding_mask_values():
    mask = tl.padding_mask(torch.tensor([2, 0, 3]), 4)
    expected = torch.tensor(
        [
            [True, True, False, False],
            [False, False, False, False],
            [True, True, True, False],
        ]
    )
    assert mask.dtype == torch.bool
    assert mask.shape == (3, 1, 1, 4)
    assert torch.equal(mask, expected[:, None, None, :])


def test_padding_mask_edge_cases():
    assert tl.padding_mask(torch.tensor([0, 0]), 0).shape == (2, 1, 1, 0)
    assert tl.padding_mask(torch.tensor([], dtype=torch.long), 3).shape == (0, 1, 1, 3)
    assert tl.padding_mask(torch.tensor([3], dtype=torch.int32), 3).all()


def test_padding_mask_removes_padded_keys():
    q, k, v = make_qkv((2, 2), 3, 5, 4, 4, torch.float64)
    mask = tl.padding_mask(torch.tensor([5, 2]), 5)
    out, weights = tl.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert (weights[1, ..., 2:] == 0).all()
    # Example 1 with padding equals example 1 truncated to its two real keys.
    torch.testing.assert_close(
        out[1], F.scaled_dot_product_attention(q[1], k[1, :, :2], v[1, :, :2])
    )


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("is_causal", [False, True])
def test_cuda_parity(dtype, is_causal):
    q, k, v = make_qkv((2, 4), 16, 16, 32, 32)
    mask = tl.padding_mask(torch.tensor([16, 9]), 16)
    ref_out, ref_weights = reference(q, k, v, mask & tl.causal_mask(16) if is_causal else mask)
    cuda = [t.to("cuda", dtype) for t in (q, k, v)]
    fused, explicit, weights = both_paths(*cuda, mask.cuda(), is_causal=is_causal)
    tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 3e-2, "rtol": 3e-2}
    for got, want in ((fused, ref_out), (explicit, ref_out), (weights, ref_weights)):
        assert got.device.type == "cuda"
        assert got.dtype == dtype
        torch.testing.assert_close(got.float().cpu(), want, **tol)


def test_a_float_keep_mask_of_ones_and_zeros_is_refused():
    """Hugging Face's attention_mask is 1.0/0.0 = keep/pad; added to the scores, it would mask
    nothing. Refused with the fix in the message, for the function and the module alike."""
    q = torch.randn(2, 1, 4, 8)
    keep = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])[:, None, None, :]
    with pytest.raises(ValueError, match=r"only 0.0 and 1.0.*mask.bool\(\)"):
        tl.scaled_dot_product_attention(q, q, q, mask=keep)
    mha = tl.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"only 0.0 and 1.0"):
        mha(torch.randn(2, 4, 8), mask=keep)
    # the same mask as bool is what was meant, and additive masks of 0 / -inf still work
    tl.scaled_dot_product_attention(q, q, q, mask=keep.bool())
    additive = torch.zeros_like(keep).masked_fill(keep == 0, float("-inf"))
    torch.testing.assert_close(
        tl.scaled_dot_product_attention(q, q, q, mask=additive),
        tl.scaled_dot_product_attention(q, q, q, mask=keep.bool()),
    )


def test_a_2d_mask_is_refused_when_it_could_be_a_padding_mask():
    """With B == T_q, a (B, T_k) padding mask has the shape of a (T_q, T_k) mask: PyTorch's
    convention would read it as the latter, silently. The library asks which was meant."""
    q = k = v = torch.randn(4, 2, 4, 8)  # B = T = 4
    lengths = torch.tensor([4, 3, 2, 1])
    padding = tl.padding_mask(lengths, 4)[:, 0, 0, :]  # (B, T_k)
    with pytest.raises(ValueError, match=r"could be \(T_q, T_k\) or a \(B, T_k\) padding mask"):
        tl.scaled_dot_product_attention(q, k, v, padding)
    with pytest.raises(ValueError, match=r"mask\[:, None, None, :\]"):
        tl.MultiHeadAttention(8, 2)(torch.randn(4, 4, 8), mask=padding)
    # Either meaning, written unambiguously, is accepted.
    as_padding = tl.scaled_dot_product_attention(q, k, v, padding[:, None, None, :])
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=padding[:, None, None, :])
    torch.testing.assert_close(as_padding, expected)
    causal = tl.causal_mask(4)
    torch.testing.assert_close(
        tl.scaled_dot_product_attention(q, k, v, causal[None, None]),
        tl.scaled_dot_product_attention(q, k, v, is_causal=True),
    )
    # Where the batch size differs from the number of queries, a 2-D mask is (T_q, T_k).
    tl.scaled_dot_product_attention(q[:3], k[:3], v[:3], causal)
