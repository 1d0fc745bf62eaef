"""Tests of positional information (transformer_lib.modules.positions) and of what it buys
an encoder.

The references are the formulas of the papers written out independently here: Vaswani et al.
(2017) for the sinusoids, a complex-number form of RoPE (Su et al., 2021), and the slope recipe
of Press et al. (2022) for ALiBi.
"""

import itertools
import math
import re

import pytest
import torch
from seeded import randn

import transformer_lib as tl

# --------------------------------------------------------------------------------------------
# Sinusoidal encoding
# --------------------------------------------------------------------------------------------


def paper_pe(pos, j, d_model, base=10000.0):
    """PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(pos / base^(2i/d))."""
    i = j // 2
    angle = pos / base ** (2 * i / d_model)
    return math.sin(angle) if j % 2 == 0 else math.cos(angle)


@pytest.mark.parametrize("d_model", [2, 8, 64])
def test_sinusoid_table_matches_the_paper(d_model):
    max_len = 300
    table = tl.SinusoidalPositionalEncoding.table(max_len, d_model)
    assert table.shape == (max_len, d_model)
    for pos in (0, 1, 2, 17, 123, 299):
        for j in sorted({0, 1, 2, 3, d_model // 2, d_model // 2 + 1, d_model - 2, d_model - 1}):
            if j < d_model:
                assert table[pos, j].item() == pytest.approx(paper_pe(pos, j, d_model), abs=1e-6)
    assert table.abs().max() <= 1.0
    # Position 0: every sine is 0 and every cosine is 1.
    torch.testing.assert_close(table[0, 0::2], torch.zeros(d_model // 2))
    torch.testing.assert_close(table[0, 1::2], torch.ones(d_model // 2))


def test_sinusoid_module_buffer_equals_table_and_custom_base():
    pe = tl.SinusoidalPositionalEncoding(16, max_len=50, base=100.0)
    assert len(list(pe.parameters())) == 0  # nothing is learned
    assert pe.pe.shape == (50, 16)
    for pos, j in itertools.product((0, 3, 49), range(16)):
        assert pe.pe[pos, j].item() == pytest.approx(paper_pe(pos, j, 16, base=100.0), abs=1e-6)


def rotation_for_offset(k, d_model, base=10000.0):
    """The block-diagonal M_k with PE[pos + k] = M_k @ PE[pos], from the angle-sum formulas.

    For each pair (sin a, cos a) with a = pos * w: sin(a + kw) = sin a cos kw + cos a sin kw and
    cos(a + kw) = cos a cos kw - sin a sin kw.
    """
    M = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i in range(d_model // 2):
        w = base ** (-2 * i / d_model)
        c, s = math.cos(k * w), math.sin(k * w)
        M[2 * i, 2 * i], M[2 * i, 2 * i + 1] = c, s
        M[2 * i + 1, 2 * i], M[2 * i + 1, 2 * i + 1] = -s, c
    return M


@pytest.mark.parametrize("k", [1, 5, 40])
def test_sinusoid_shift_is_a_fixed_rotation(k):
    d_model, max_len = 32, 200
    table = tl.SinusoidalPositionalEncoding.table(max_len, d_model).double()
    M = rotation_for_offset(k, d_model)
    torch.testing.assert_close(M @ M.T, torch.eye(d_model, dtype=torch.float64))  # orthogonal
    for pos in (0, 1, 7, 50, 150):
        torch.testing.assert_close(M @ table[pos], table[pos + k], atol=2e-6, rtol=0)
    # All positions at once, and a wrong offset does not fit.
    torch.testing.assert_close(table[: max_len - k] @ M.T, table[k:], atol=2e-6, rtol=0)
    wrong = rotation_for_offset(k + 1, d_model)
    assert not torch.allclose(table[: max_len - k] @ wrong.T, table[k:], atol=1e-3)


def test_sinusoid_dot_product_depends_on_distance_only():
    table = tl.SinusoidalPositionalEncoding.table(100, 32).double()
    for k in (1, 3, 10):
        dots = (table[:-k] * table[k:]).sum(-1)
        torch.testing.assert_close(dots, dots[:1].expand_as(dots), atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("offset", [0, 3])
def test_sinusoid_forward_adds_the_table(offset, dtype):
    pe = tl.SinusoidalPositionalEncoding(8, max_len=20)
    x = randn(2, 6, 8, dtype=dtype)
    out = pe(x, offset=offset)
    assert out.dtype == dtype
    expected = torch.tensor(
        [[paper_pe(offset + t, j, 8) for j in range(8)] for t in range(6)], dtype=dtype
    )
    torch.testing.assert_close(out, x + expected, atol=1e-6, rtol=1e-6)


def test_sinusoid_beyond_max_len_raises():
    pe = tl.SinusoidalPositionalEncoding(8, max_len=10)
    pe(randn(1, 10, 8))  # exactly max_len fits
    pe(randn(1, 4, 8), offset=6)
    with pytest.raises(ValueError, match="max_len"):
        pe(randn(1, 11, 8))
    with pytest.raises(ValueError, match="max_len"):
        pe(randn(1, 4, 8), offset=7)


@pytest.mark.parametrize("args", [(7,), (0,), (8, 0), (8.0,), (True,)])
def test_sinusoid_bad_sizes_raise(args):
    with pytest.raises(ValueError, match="d_model|max_len"):
        tl.SinusoidalPositionalEncoding(*args)


def test_sinusoid_odd_d_model_message():
    with pytest.raises(ValueError, match="d_model must be even"):
        tl.SinusoidalPositionalEncoding(9)


def test_sinusoid_wrong_input_shape_raises():
    pe = tl.SinusoidalPositionalEncoding(8, max_len=10)
    with pytest.raises(ValueError, match="d_model"):
        pe(randn(1, 4, 6))
    with pytest.raises(ValueError, match="x"):
        pe(randn(4, 8))


# --------------------------------------------------------------------------------------------
# Learned positional embedding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 2])
def test_learned_embedding_adds_rows(offset):
    torch.manual_seed(0)
    emb = tl.LearnedPositionalEmbedding(8, max_len=12)
    params = list(emb.parameters())
    assert sum(p.numel() for p in params) == 12 * 8
    x = randn(3, 5, 8)
    out = emb(x, offset=offset)
    table = emb.embedding.weight
    for t in range(5):
        torch.testing.assert_close(out[:, t], x[:, t] + table[offset + t])
    assert table.std().item() > 0  # rows are not all equal: they can tell positions apart
    out.sum().backward()
    # Only the rows that were used receive gradient, each from 3 examples.
    grad = table.grad
    used = torch.zeros(12, dtype=torch.bool)
    used[offset : offset + 5] = True
    torch.testing.assert_close(grad[used], torch.full((5, 8), 3.0))
    assert (grad[~used] == 0).all()


def test_learned_embedding_follows_input_dtype_and_rejects_long_input():
    emb = tl.LearnedPositionalEmbedding(4, max_len=6)
    assert emb(randn(1, 6, 4, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="max_len"):
        emb(randn(1, 7, 4))
    with pytest.raises(ValueError, match="max_len"):
        emb(randn(1, 2, 4), offset=5)
    with pytest.raises(ValueError, match="d_model"):
        emb(randn(1, 2, 5))
    with pytest.raises(ValueError, match="max_len"):
        tl.LearnedPositionalEmbedding(4, max_len=0)


# --------------------------------------------------------------------------------------------
# Rotary embedding
# --------------------------------------------------------------------------------------------


def rope_complex(x, positions, base=10000.0):
    """RoPE as complex multiplication: feature i and i + d/2 are the real and imaginary parts."""
    d = x.shape[-1]
    half = d // 2
    z = torch.complex(x[..., :half].double(), x[..., half:].double())
    i = torch.arange(half, dtype=torch.float64)
    theta = torch.tensor(positions, dtype=torch.float64)[:, None] * base ** (-2 * i / d)
    z = z * torch.polar(torch.ones_like(theta), theta)
    return torch.cat([z.real, z.imag], dim=-1)


@pytest.mark.parametrize("d_head", [2, 8, 64])
@pytest.mark.parametrize("offset", [0, 7])
def test_rope_matches_complex_formulation(d_head, offset):
    rope = tl.RotaryEmbedding(d_head)
    x = randn(2, 3, 9, d_head, dtype=torch.float64)
    out = rope(x, offset)
    expected = rope_complex(x, list(range(offset, offset + 9)))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def rope_complex_interleaved(x, positions, base=10000.0):
    """Su et al.'s form: features 2i and 2i+1 are the real and imaginary parts of pair i."""
    d = x.shape[-1]
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = torch.tensor(positions, dtype=torch.float64)[:, None] * base ** (-2 * i / d)
    z = z * torch.polar(torch.ones_like(theta), theta)
    return torch.view_as_real(z).flatten(-2)


@pytest.mark.parametrize("d_head", [2, 8, 64])
@pytest.mark.parametrize("offset", [0, 7])
def test_rope_interleaved_matches_complex_formulation(d_head, offset):
    rope = tl.RotaryEmbedding(d_head, interleaved=True)
    x = randn(2, 3, 9, d_head, dtype=torch.float64)
    expected = rope_complex_interleaved(x, list(range(offset, offset + 9)))
    torch.testing.assert_close(rope(x, offset), expected, atol=1e-5, rtol=1e-5)


def test_rope_pairings_are_one_rotation_under_a_permutation():
    """Interleaved RoPE equals rotate-half RoPE on features reordered (evens, then odds)."""
    d = 16
    x = randn(2, 5, d, dtype=torch.float64)
    to_half = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])  # interleaved -> half
    half = tl.RotaryEmbedding(d)(x[..., to_half], 3)
    inter = tl.RotaryEmbedding(d, interleaved=True)(x, 3)
    torch.testing.assert_close(inter[..., to_half], half)
    assert not torch.allclose(inter, tl.RotaryEmbedding(d)(x, 3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interleaved": 1}, "interleaved must be True or False, but got 1"),
        ({"base": 1.0}, "base must be a number > 1, but got 1.0"),
        ({"base": "10000"}, "base must be a number > 1, but got '10000'"),
    ],
)
def test_rope_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tl.RotaryEmbedding(8, **kwargs)


def test_rope_custom_base_matches_complex_formulation():
    rope = tl.RotaryEmbedding(16, base=500.0)
    x = randn(1, 1, 6, 16, dtype=torch.float64)
    torch.testing.assert_close(rope(x), rope_complex(x, list(range(6)), 500.0), atol=1e-5, rtol=0)
    assert not torch.allclose(rope(x), tl.RotaryEmbedding(16)(x), atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rope_preserves_norms_and_is_identity_at_zero(dtype):
    rope = tl.RotaryEmbedding(16)
    x = randn(2, 4, 30, 16, dtype=dtype)
    out = rope(x)
    assert out.dtype == dtype
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(out[..., 0, :], x[..., 0, :])  # position 0: angle 0
    assert not torch.allclose(out[..., 1:, :], x[..., 1:, :])
    # The pairs (i, i + d/2) keep their own norms: it is a rotation of each pair.
    pair_norm = lambda t: t[..., :8] ** 2 + t[..., 8:] ** 2  # noqa: E731
    torch.testing.assert_close(pair_norm(out), pair_norm(x))


def test_rope_dot_product_depends_only_on_relative_position():
    d = 32
    rope = tl.RotaryEmbedding(d)
    q = randn(d, seed=1, dtype=torch.float64)
    k = randn(d, seed=2, dtype=torch.float64)

    def rotated_dot(m, n):
        qm = rope(q.expand(1, m + 1, d), 0)[0, m]
        kn = rope(k.expand(1, n + 1, d), 0)[0, n]
        return (qm @ kn).item()

    for delta in (0, 1, 3, -4, 11):
        pairs = [(m, m - delta) for m in (0, 5, 12, 30, 57) if m - delta >= 0]
        dots = [rotated_dot(m, n) for m, n in pairs]
        for dot in dots:
            assert dot == pytest.approx(dots[0], abs=1e-4)
    # ... and it does depend on the offset.
    assert abs(rotated_dot(5, 5) - rotated_dot(5, 2)) > 1e-3


def test_rope_offset_equals_slicing_a_longer_sequence():
    rope = tl.RotaryEmbedding(8)
    x = randn(2, 2, 12, 8)
    full = rope(x)
    for offset, length in ((0, 4), (5, 3), (11, 1)):
        torch.testing.assert_close(
            rope(x[..., offset : offset + length, :], offset),
            full[..., offset : offset + length, :],
        )


def test_rope_works_on_any_leading_shape():
    rope = tl.RotaryEmbedding(4)
    x = randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(rope(x)[None, None], rope(x[None, None]))


def test_rope_bad_input_raises():
    with pytest.raises(ValueError, match="d_head"):
        tl.RotaryEmbedding(7)
    with pytest.raises(ValueError, match="d_head"):
        tl.RotaryEmbedding(0)
    with pytest.raises(ValueError, match="d_head"):
        tl.RotaryEmbedding(8)(randn(1, 1, 3, 6))
    with pytest.raises(TypeError, match="x"):
        tl.RotaryEmbedding(8)([1.0] * 8)


# --------------------------------------------------------------------------------------------
# ALiBi
# --------------------------------------------------------------------------------------------


def press_slopes(n):
    """The slope recipe from Press et al.'s reference code, written out independently."""

    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + press_slopes(2 * closest)[0::2][: n - closest]


def alibi(n):
    return tl.alibi_slopes(n).double()


def test_alibi_slopes_powers_of_two():
    assert tl.alibi_slopes(8).dtype == torch.float32
    torch.testing.assert_close(tl.alibi_slopes(8), torch.tensor([2.0**-i for i in range(1, 9)]))
    torch.testing.assert_close(tl.alibi_slopes(4), torch.tensor([2.0**-i for i in (2, 4, 6, 8)]))
    torch.testing.assert_close(tl.alibi_slopes(1), torch.tensor([2.0**-8]))
    torch.testing.assert_close(
        tl.alibi_slopes(16), torch.tensor([2.0 ** (-i / 2) for i in range(1, 17)])
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 8, 12, 16, 20, 24])
def test_alibi_slopes_follow_press_et_al(n):
    slopes = alibi(n)
    assert slopes.shape == (n,)
    torch.testing.assert_close(slopes, torch.tensor(press_slopes(n), dtype=torch.float64))
    assert (slopes > 0).all() and (slopes < 1).all()
    assert len(set(slopes.tolist())) == n  # every head sees distance at its own scale


def test_alibi_slopes_for_six_heads_spelled_out():
    # Four slopes of the 4-head sequence, then every other slope of the 8-head one.
    expected = [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]
    torch.testing.assert_close(alibi(6), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("num_heads,T", [(4, 5), (6, 3), (1, 1)])
def test_alibi_bias_is_minus_slope_times_distance(num_heads, T):
    bias = tl.alibi_bias(num_heads, T)
    assert bias.shape == (num_heads, T, T)
    assert bias.dtype == torch.float32
    slopes = press_slopes(num_heads)
    for h in range(num_heads):
        for i in range(T):
            for j in range(T):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h] * abs(i - j), rel=1e-6)
    torch.testing.assert_close(bias, bias.transpose(-2, -1))  # symmetric


@pytest.mark.parametrize("T_q", [1, 3, 7])
def test_alibi_bias_with_fewer_queries_aligns_lower_right(T_q):
    full = tl.alibi_bias(4, 7)
    part = tl.alibi_bias(4, T_q, 7)
    assert part.shape == (4, T_q, 7)
    torch.testing.assert_close(part, full[:, 7 - T_q :])
    assert (part[:, -1, -1] == 0).all()  # the last query is the last key: distance 0


def test_alibi_bias_dtype_and_bad_sizes():
    assert tl.alibi_bias(2, 3, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="T_q"):
        tl.alibi_bias(2, 0)
    with pytest.raises(ValueError, match="num_heads"):
        tl.alibi_bias(0, 3)
    with pytest.raises(ValueError, match="num_heads"):
        tl.alibi_slopes(2.0)


def test_alibi_bias_as_attention_mask_prefers_near_keys():
    """Equal scores everywhere: ALiBi alone decides, so weights fall off with distance."""
    q = torch.zeros(1, 2, 5, 4)
    k = torch.zeros(1, 2, 5, 4)
    v = randn(1, 2, 5, 4)
    _, w = tl.scaled_dot_product_attention(q, k, v, tl.alibi_bias(2, 5), return_weights=True)
    slopes = torch.tensor(press_slopes(2))
    for h in range(2):
        expected = torch.softmax(
            -slopes[h] * (torch.arange(5)[:, None] - torch.arange(5)).abs(), -1
        )
        torch.testing.assert_close(w[0, h], expected)


# --------------------------------------------------------------------------------------------
# Permutation equivariance: what positions are for
# --------------------------------------------------------------------------------------------

PERMUTATIONS = [torch.randperm(7, generator=torch.Generator().manual_seed(s)) for s in range(3)]


def make_encoder(positional, seed=0):
    torch.manual_seed(seed)
    enc = tl.Encoder(2, 16, 4, d_ff=32, dropout=0.0, positional=positional, max_len=16)
    return enc.double().eval()


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_encoder_without_positions_is_permutation_equivariant(norm_first):
    torch.manual_seed(0)
    enc = tl.Encoder(2, 16, 4, d_ff=32, positional=None, norm_first=norm_first).double().eval()
    x = randn(3, 7, 16, dtype=torch.float64)
    mask = tl.padding_mask(torch.tensor([7, 5, 2]), 7)
    out = enc(x)
    out_masked = enc(x, mask)
    for perm in PERMUTATIONS:
        torch.testing.assert_close(enc(x[:, perm]), out[:, perm])
        # With padding, the mask is permuted along with the tokens.
        torch.testing.assert_close(enc(x[:, perm], mask[..., perm]), out_masked[:, perm])


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rope", "alibi"])
def test_encoder_with_positions_is_not_permutation_equivariant(positional):
    enc = make_encoder(positional)
    x = randn(3, 7, 16, dtype=torch.float64)
    out = enc(x)
    diffs = [(enc(x[:, perm]) - out[:, perm]).abs().max().item() for perm in PERMUTATIONS]
    assert max(diffs) > 1e-2, diffs
    # Permuting nothing changes nothing: the difference comes from the order alone.
    torch.testing.assert_close(enc(x), out)
