"""Property-based tests over the public API (hypothesis).

Where the other test files check chosen cases against references, these draw the cases:
batch sizes, lengths (1 included), head counts, grouped key/value heads, dtypes, boolean and
additive masks and padding patterns. Each property is one that a masking, caching or
positional bug breaks:

* output shapes;
* the fused and the explicit attention paths agree (and agree with a float64 softmax written
  out here);
* a masked key has no influence: changing it leaves the output unchanged;
* causal models never read the future: changing tokens after ``t`` leaves outputs at ``<= t``;
* a key/value cache gives the full pass's result, however the sequence is split;
* padding never changes the real tokens' outputs;
* no NaN or inf for finite inputs, fully masked rows and scores at the 1e4 scale included;
* self-attention without positions is permutation-equivariant.

Hypothesis draws shapes and options; tensor contents come from a ``torch.Generator`` seeded
with a drawn integer, so every example is reproducible. The profile is derandomized: the same
examples run on every machine and every run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from torch import Tensor

import transformer_lib as tl

# One profile for the whole file, applied per test (not loaded globally, so other test files
# keep hypothesis' defaults). max_examples keeps the whole file at about 20 s on 2 quiet cores.
settings.register_profile(
    "properties",
    deadline=None,  # the first example of a test pays for PyTorch's lazy initialisation
    derandomize=True,  # CI must see the same examples every run
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=False,
)
PROFILE = settings.get_profile("properties")
FEW = settings(PROFILE, max_examples=40)  # for the properties of whole models

NEG_INF = float("-inf")
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
DTYPES = st.sampled_from([torch.float32, torch.float64, torch.bfloat16])

# Tolerances per dtype: two computations of one quantity in that precision (bfloat16 keeps 8
# bits of mantissa, so two roundings apart is about 1e-2 relative).
TOL = {
    torch.float64: dict(rtol=1e-9, atol=1e-10),
    torch.float32: dict(rtol=2e-5, atol=2e-5),
    torch.bfloat16: dict(rtol=4e-2, atol=4e-2),
}


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32, std: float = 1.0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).to(dtype)


def rand_bool(*shape: int, seed: int, p: float) -> Tensor:
    """Each entry True with probability ``p``."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p


def rand_ids(*shape: int, seed: int, high: int, low: int = 0) -> Tensor:
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed))


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build modules from a seed without disturbing the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def assert_finite(*tensors: Tensor) -> None:
    for t in tensors:
        assert torch.isfinite(t).all(), "non-finite values in the output"


def allowed_keys(q: Tensor, k: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
    """Boolean ``(..., T_q, T_k)``: which keys each query may attend to."""
    T_q, T_k = q.shape[-2], k.shape[-2]
    allowed = torch.ones(*q.shape[:-1], T_k, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & (mask if mask.dtype == torch.bool else ~torch.isneginf(mask))
    if is_causal:  # the queries are the last T_q of T_k positions
        allowed = allowed & torch.ones(T_q, T_k, dtype=torch.bool).tril(T_k - T_q)
    return allowed


def reference_attention(q, k, v, mask=None, is_causal=False):
    """Output and weights in float64, written out; rows with no allowed key are zero."""
    q, k, v = (t.detach().double() for t in (q, k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None and mask.dtype != torch.bool:
        scores = scores + mask.double().masked_fill(torch.isneginf(mask), 0.0)
    allowed = allowed_keys(q, k, mask, is_causal)
    scores = scores.masked_fill(~allowed, NEG_INF)
    dead = ~allowed.any(-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
    return weights @ v, weights


# ------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------


def mask_shapes(B: int, H: int, T_q: int, T_k: int) -> list[tuple[int, ...]]:
    """Shapes that broadcast to the scores ``(B, H, T_q, T_k)``. A 2-D mask only where it
    cannot be a (B, T_k) padding mask: the library refuses that ambiguity."""
    return [
        (T_k,),
        (T_q, T_k) if B == 1 or B != T_q else (1, 1, T_q, T_k),
        (B, 1, 1, T_k),
        (B, 1, T_q, T_k),
        (1, H, T_q, T_k),
        (B, H, T_q, T_k),
    ]


@st.composite
def masks(draw, B: int, H: int, T_q: int, T_k: int, kinds=("none", "bool", "float")):
    """None, a random boolean mask, or a random additive mask with some ``-inf`` entries."""
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    shape = draw(st.sampled_from(mask_shapes(B, H, T_q, T_k)))
    p = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))  # 0: every row dead; 1: nothing masked
    allowed = rand_bool(*shape, seed=draw(SEEDS), p=p)
    if kind == "bool":
        return allowed
    # The mask's dtype need not be the query's: the library casts it.
    bias_dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16]))
    bias = randn(*shape, seed=draw(SEEDS), std=draw(st.sampled_from([0.5, 3.0])), dtype=bias_dtype)
    return bias.masked_fill(~allowed, NEG_INF)


@st.composite
def attention_cases(draw, kinds=("none", "bool", "float"), dtypes=DTYPES):
    B, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    T_q, T_k = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    d_k, d_v = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    dtype = draw(dtypes)
    seed = draw(SEEDS)
    q = randn(B, H, T_q, d_k, seed=seed, dtype=dtype)
    k = randn(B, H, T_k, d_k, seed=seed + 1, dtype=dtype)
    v = randn(B, H, T_k, d_v, seed=seed + 2, dtype=dtype)
    mask = draw(masks(B, H, T_q, T_k, kinds))
    return q, k, v, mask, draw(st.booleans())


@st.composite
def head_configs(draw, even_head: bool = False):
    """``(d_model, num_heads, num_kv_heads)`` with ``d_model <= 32``."""
    H = draw(st.sampled_from([1, 2, 3, 4]))
    d_heads = (
        [d for d in (2, 4, 6, 8) if H * d <= 32]
        if even_head
        else [d for d in (1, 2, 3, 4, 6, 8) if H * d <= 32]
    )
    d_head = draw(st.sampled_from(d_heads))
    kv = draw(st.sampled_from([g for g in range(1, H + 1) if H % g == 0]))
    return H * d_head, H, kv


# ------------------------------------------------------------------------------------------
# scaled_dot_product_attention, causal_mask, padding_mask
# ------------------------------------------------------------------------------------------


def _case(T_q, T_k, mask=None, is_causal=False, dtype=torch.float32):
    """A fixed attention case, for the explicit examples below."""
    q, k, v = (randn(1, 2, T, 4, seed=i, dtype=dtype) for i, T in enumerate((T_q, T_k, T_k)))
    return q, k, v, mask, is_causal


@PROFILE
@given(case=attention_cases())
# More queries than keys with is_causal: the first rows see no key although there is no mask.
@example(case=_case(4, 2, is_causal=True))
# Every key masked, in a boolean and in an additive mask.
@example(case=_case(3, 3, torch.zeros(3, 3, dtype=torch.bool)))
@example(case=_case(2, 3, torch.full((1, 1, 1, 3), NEG_INF), dtype=torch.bfloat16))
def test_attention_paths_agree_with_each_other_and_a_float64_reference(case):
    q, k, v, mask, is_causal = case
    fused = tl.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal)
    explicit, weights = tl.scaled_dot_product_attention(
        q, k, v, mask, is_causal=is_causal, return_weights=True
    )
    B, H, T_q, _ = q.shape
    assert fused.shape == explicit.shape == (B, H, T_q, v.shape[-1])
    assert weights.shape == (B, H, T_q, k.shape[-2])
    assert fused.dtype == explicit.dtype == weights.dtype == q.dtype
    assert_finite(fused, explicit, weights)
    tol = TOL[q.dtype]
    torch.testing.assert_close(fused, explicit, **tol)
    ref_out, ref_weights = reference_attention(q, k, v, mask, is_causal)
    torch.testing.assert_close(explicit.double(), ref_out, **tol)
    torch.testing.assert_close(weights.double(), ref_weights, **tol)
    # Every row of weights is a distribution, or all zero where no key is allowed.
    sums = weights.double().sum(-1)
    dead = ref_weights.sum(-1) == 0
    torch.testing.assert_close(sums, (~dead).double(), **tol)
    assert (weights >= 0).all()


@PROFILE
@given(case=attention_cases(kinds=("bool", "float")), seed=SEEDS, fused=st.booleans())
def test_attention_masked_keys_have_no_influence(case, seed, fused):
    q, k, v, mask, is_causal = case
    T_k = k.shape[-2]
    allowed = allowed_keys(q, k, mask, is_causal)
    # Change the keys and values of some positions, by a lot.
    changed = rand_bool(T_k, seed=seed, p=0.5)
    assume(changed.any())
    k2 = torch.where(changed[:, None], randn(*k.shape, seed=seed + 1, dtype=k.dtype, std=5), k)
    v2 = torch.where(changed[:, None], randn(*v.shape, seed=seed + 2, dtype=v.dtype, std=5), v)

    def run(k, v):
        kwargs = dict(is_causal=is_causal, return_weights=not fused)
        out = tl.scaled_dot_product_attention(q, k, v, mask, **kwargs)
        return out if fused else out[0]

    before, after = run(k, v), run(k2, v2)
    # Rows that may attend to none of the changed keys must not move.
    blind = ~(allowed & changed).any(-1)  # (B, H, T_q)
    torch.testing.assert_close(after[blind], before[blind], **TOL[q.dtype])


@PROFILE
@given(
    case=attention_cases(
        kinds=("bool", "float"), dtypes=st.sampled_from([torch.float32, torch.float64])
    ),
    seed=SEEDS,
    fused=st.booleans(),
)
def test_attention_fully_masked_rows_are_zero_with_finite_gradients(case, seed, fused):
    q, k, v, mask, is_causal = case
    # Empty some query rows entirely, on top of the drawn mask.
    B, H, T_q, _ = q.shape
    T_k = k.shape[-2]
    dead_rows = rand_bool(B, 1, T_q, 1, seed=seed, p=0.5)
    full = mask.expand(B, H, T_q, T_k)
    mask = full & ~dead_rows if full.dtype == torch.bool else full.masked_fill(dead_rows, NEG_INF)
    q, k, v = (t.clone().requires_grad_(True) for t in (q, k, v))
    out = tl.scaled_dot_product_attention(
        q, k, v, mask, is_causal=is_causal, return_weights=not fused
    )
    out = out if fused else out[0]
    assert_finite(out)
    assert (out.detach()[dead_rows.expand(B, H, T_q, 1).squeeze(-1)] == 0).all()
    out.square().sum().backward()
    assert_finite(q.grad, k.grad, v.grad)


@PROFILE
@given(
    case=attention_cases(kinds=("none", "bool", "float")),
    dtype=st.sampled_from([torch.float32, torch.bfloat16]),
    fused=st.booleans(),
)
def test_attention_extreme_scores_stay_finite_and_convex(case, dtype, fused):
    q, k, v, mask, is_causal = case
    # Scores of order 1e4 (the softmax must subtract its maximum to survive them).
    # |q| = |k| = 100 d^(1/4), so q.k / sqrt(d) = 1e4 cos(q, k).
    d = q.shape[-1]
    q = (F.normalize(q.double(), dim=-1) * 100.0 * d**0.25).to(dtype)
    k = (F.normalize(k.double(), dim=-1) * 100.0 * d**0.25).to(dtype)
    v = v.to(dtype)
    out = tl.scaled_dot_product_attention(
        q, k, v, mask, is_causal=is_causal, return_weights=not fused
    )
    out = out if fused else out[0]
    assert out.dtype == dtype
    assert_finite(out)
    # Each row is a convex combination of the values it may attend to (or zero).
    allowed = allowed_keys(q, k, mask, is_causal)
    vv = v.double()[..., None, :, :]  # (B, H, 1, T_k, d_v)
    lo = vv.masked_fill(~allowed[..., None], math.inf).amin(-2)
    hi = vv.masked_fill(~allowed[..., None], -math.inf).amax(-2)
    live = allowed.any(-1)
    slack = TOL[dtype]["atol"] * (1 + v.double().abs().max())
    o = out.double()
    assert (o[live] >= lo[live] - slack).all() and (o[live] <= hi[live] + slack).all()
    assert (o[~live] == 0).all()


@PROFILE
@given(case=attention_cases(), seed=SEEDS, fused=st.booleans())
def test_attention_permutes_with_the_queries_and_ignores_the_key_order(case, seed, fused):
    q, k, v, mask, _ = case  # no is_causal: a causal mask is tied to the order
    B, H, T_q, _ = q.shape
    T_k = k.shape[-2]
    g = torch.Generator().manual_seed(seed)
    pq, pk = torch.randperm(T_q, generator=g), torch.randperm(T_k, generator=g)
    full = None if mask is None else mask.expand(B, H, T_q, T_k)

    def run(q, k, v, mask):
        out = tl.scaled_dot_product_attention(q, k, v, mask, return_weights=not fused)
        return out if fused else out[0]

    out = run(q, k, v, full)
    moved = run(
        q[..., pq, :],
        k[..., pk, :],
        v[..., pk, :],
        None if full is None else full[..., pq, :][..., pk],
    )
    torch.testing.assert_close(moved, out[..., pq, :], **TOL[q.dtype])


@PROFILE
@given(T=st.integers(0, 12))
def test_causal_mask_lets_query_i_see_keys_up_to_i(T):
    m = tl.causal_mask(T)
    assert m.shape == (T, T) and m.dtype == torch.bool
    assert m.sum(-1).tolist() == list(range(1, T + 1))  # row i allows i + 1 keys...
    assert torch.equal(m, m.tril())  # ...and they are the first ones


@PROFILE
@given(lengths=st.lists(st.integers(0, 8), min_size=1, max_size=5), extra=st.integers(0, 3))
def test_padding_mask_marks_the_first_length_positions(lengths, extra):
    max_len = max(lengths) + extra
    m = tl.padding_mask(torch.tensor(lengths), max_len)
    assert m.shape == (len(lengths), 1, 1, max_len) and m.dtype == torch.bool
    assert m.sum(-1).flatten().tolist() == lengths
    row = m[:, 0, 0]
    assert (row[:, 1:] <= row[:, :-1]).all()  # a prefix of True, then False


# ------------------------------------------------------------------------------------------
# MultiHeadAttention and KVCache
# ------------------------------------------------------------------------------------------


@PROFILE
@given(
    cfg=head_configs(),
    B=st.integers(1, 3),
    T_q=st.integers(1, 6),
    T_k=st.integers(1, 6),
    cross=st.booleans(),
    causal=st.booleans(),
    dtype=DTYPES,
    seed=SEEDS,
    mask_kind=st.sampled_from(["none", "bool", "float"]),
)
def test_mha_shapes_and_paths_agree(cfg, B, T_q, T_k, cross, causal, dtype, seed, mask_kind):
    d_model, H, kv = cfg
    T_k = T_k if cross else T_q
    with seeded(seed):
        mha = tl.MultiHeadAttention(d_model, H, num_kv_heads=kv).to(dtype)
    x = randn(B, T_q, d_model, seed=seed, dtype=dtype)
    mem = randn(B, T_k, d_model, seed=seed + 1, dtype=dtype) if cross else None
    mask = None
    if mask_kind != "none":
        shape = [(T_q, T_k), (B, 1, 1, T_k), (B, H, T_q, T_k)][seed % 3]
        mask = rand_bool(*shape, seed=seed, p=0.6)
        if mask_kind == "float":
            mask = randn(*shape, seed=seed + 2).masked_fill(~mask, NEG_INF)
    fused = mha(x, mem, mask=mask, is_causal=causal)
    explicit, weights = mha(x, mem, mask=mask, is_causal=causal, return_weights=True)
    assert fused.shape == explicit.shape == (B, T_q, d_model)
    assert weights.shape == (B, H, T_q, T_k)
    assert fused.dtype == dtype
    assert_finite(fused, explicit, weights)
    torch.testing.assert_close(fused, explicit, **TOL[dtype])


@PROFILE
@given(cfg=head_configs(), B=st.integers(1, 2), T=st.integers(1, 6), seed=SEEDS)
def test_grouped_kv_heads_equal_full_heads_with_repeated_projections(cfg, B, T, seed):
    d_model, H, kv = cfg
    with seeded(seed):
        grouped = tl.MultiHeadAttention(d_model, H, num_kv_heads=kv).double()
    full = tl.MultiHeadAttention(d_model, H).double()
    d_head, group = d_model // H, H // kv
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(full, name).load_state_dict(getattr(grouped, name).state_dict())
        for name in ("k_proj", "v_proj"):  # query head h reads key/value head h // group
            src, dst = getattr(grouped, name), getattr(full, name)
            dst.weight.copy_(
                src.weight.view(kv, d_head, d_model)
                .repeat_interleave(group, 0)
                .reshape(d_model, d_model)
            )
            dst.bias.copy_(src.bias.view(kv, d_head).repeat_interleave(group, 0).flatten())
    x = randn(B, T, d_model, seed=seed, dtype=torch.float64)
    torch.testing.assert_close(grouped(x, is_causal=True), full(x, is_causal=True))


@PROFILE
@given(
    cfg=head_configs(even_head=True),
    B=st.integers(1, 2),
    T=st.integers(2, 8),
    rope=st.booleans(),
    interleaved=st.booleans(),
    seed=SEEDS,
    data=st.data(),
)
def test_mha_causal_never_reads_the_future(cfg, B, T, rope, interleaved, seed, data):
    d_model, H, kv = cfg
    t = data.draw(st.integers(0, T - 2), label="t")
    with seeded(seed):
        mha = tl.MultiHeadAttention(
            d_model, H, num_kv_heads=kv, rope=rope, rope_interleaved=interleaved
        )
    x = randn(B, T, d_model, seed=seed)
    x2 = x.clone()
    x2[:, t + 1 :] = randn(B, T - t - 1, d_model, seed=seed + 1, std=3.0)
    for return_weights in (False, True):
        a = mha(x, is_causal=True, return_weights=return_weights)
        b = mha(x2, is_causal=True, return_weights=return_weights)
        a, b = (a[0], b[0]) if return_weights else (a, b)
        torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], **TOL[torch.float32])
        assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])  # the test can see a change


@st.composite
def splits(draw, T: int) -> list[int]:
    """A random split of ``T`` positions into chunks of at least one."""
    cuts = sorted(draw(st.sets(st.integers(1, T - 1), max_size=T - 1))) if T > 1 else []
    bounds = [0, *cuts, T]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


@PROFILE
@given(
    cfg=head_configs(even_head=True),
    B=st.integers(1, 2),
    T=st.integers(1, 8),
    rope=st.booleans(),
    capacity=st.sampled_from([None, 1, 3, 16]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=SEEDS,
    data=st.data(),
)
def test_mha_cache_incremental_equals_full_pass(cfg, B, T, rope, capacity, dtype, seed, data):
    d_model, H, kv = cfg
    chunks = data.draw(splits(T), label="chunks")
    with seeded(seed):
        mha = tl.MultiHeadAttention(d_model, H, num_kv_heads=kv, rope=rope).to(dtype)
    x = randn(B, T, d_model, seed=seed, dtype=dtype)
    full = mha(x, is_causal=True)
    cache, outs, start = tl.KVCache(capacity), [], 0
    for n in chunks:
        outs.append(mha(x[:, start : start + n], is_causal=True, cache=cache))
        start += n
    assert len(cache) == T and cache.key.shape == (B, kv, T, d_model // H)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **TOL[dtype])


@PROFILE
@given(
    cfg=head_configs(),
    B=st.integers(1, 3),
    T_q=st.integers(1, 5),
    S=st.integers(1, 6),
    p=st.sampled_from([0.0, 0.5, 0.8]),
    fused=st.booleans(),
    seed=SEEDS,
)
def test_mha_cross_attention_ignores_padded_memory(cfg, B, T_q, S, p, fused, seed):
    d_model, H, kv = cfg
    with seeded(seed):
        mha = tl.MultiHeadAttention(d_model, H, num_kv_heads=kv)
    x = randn(B, T_q, d_model, seed=seed)
    mem = randn(B, S, d_model, seed=seed + 1)
    real = rand_bool(B, S, seed=seed + 2, p=p)  # any pattern, rows of only padding included
    mem2 = torch.where(real[..., None], mem, randn(B, S, d_model, seed=seed + 3, std=5))
    mask = real[:, None, None, :]

    def run(m):
        out = mha(x, m, mask=mask, return_weights=not fused)
        return out if fused else out[0]

    a, b = run(mem), run(mem2)
    assert_finite(a)
    torch.testing.assert_close(a, b)
    a.square().sum().backward()  # fully masked rows must not poison the gradients either
    assert_finite(*(p.grad for p in mha.parameters()))
    # A sequence with no real memory reads nothing: attention gives zero, so only out_proj's
    # bias remains.
    empty = ~real.any(-1)
    torch.testing.assert_close(a[empty], mha.out_proj.bias.detach().expand_as(a[empty]))


@PROFILE
@given(
    cfg=head_configs(),
    B=st.integers(1, 2),
    T=st.integers(1, 7),
    padded=st.booleans(),
    seed=SEEDS,
)
def test_mha_without_positions_is_permutation_equivariant(cfg, B, T, padded, seed):
    d_model, H, kv = cfg
    with seeded(seed):
        mha = tl.MultiHeadAttention(d_model, H, num_kv_heads=kv).double()
    x = randn(B, T, d_model, seed=seed, dtype=torch.float64)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    keep = rand_bool(B, T, seed=seed + 1, p=0.7) if padded else torch.ones(B, T, dtype=torch.bool)
    out = mha(x, mask=keep[:, None, None, :])
    out_perm = mha(x[:, perm], mask=keep[:, perm][:, None, None, :])
    torch.testing.assert_close(out_perm, out[:, perm])


# ------------------------------------------------------------------------------------------
# Positions
# ------------------------------------------------------------------------------------------


@PROFILE
@given(
    d=st.sampled_from([2, 4, 8, 16, 32]),
    B=st.integers(1, 2),
    T=st.integers(1, 10),
    offset=st.integers(0, 10),
    learned=st.booleans(),
    seed=SEEDS,
)
def test_absolute_positions_follow_the_offset(d, B, T, offset, learned, seed):
    with seeded(seed):
        pos = (
            tl.LearnedPositionalEmbedding(d, max_len=20)
            if learned
            else tl.SinusoidalPositionalEncoding(d, max_len=20)
        )
    x = randn(B, offset + T, d, seed=seed)
    whole = pos(x)
    part = pos(x[:, offset:], offset)
    assert part.shape == (B, T, d)
    torch.testing.assert_close(part, whole[:, offset:])
    added = (whole - x)[0]  # (T, d): the same vector for every sequence of the batch
    torch.testing.assert_close((whole - x), added.expand_as(x), **TOL[torch.float32])
    if not learned:  # each (sin, cos) pair lies on the unit circle; position 0 is (0, 1)
        pairs = added[:, 0::2].square() + added[:, 1::2].square()
        torch.testing.assert_close(pairs, torch.ones_like(pairs), **TOL[torch.float32])
        torch.testing.assert_close(added[0, 0::2], torch.zeros(d // 2), **TOL[torch.float32])


@PROFILE
@given(
    d_head=st.sampled_from([2, 4, 8, 16]),
    T=st.integers(1, 8),
    m=st.integers(0, 50),
    n=st.integers(0, 50),
    shift=st.integers(0, 50),
    interleaved=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=SEEDS,
)
def test_rope_rotates_and_depends_on_relative_position_only(
    d_head, T, m, n, shift, interleaved, dtype, seed
):
    rope = tl.RotaryEmbedding(d_head, interleaved=interleaved)
    x = randn(2, 3, T, d_head, seed=seed, dtype=dtype)
    y = rope(x, m)
    assert y.shape == x.shape and y.dtype == dtype
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), **TOL[dtype])  # a rotation
    # The same positions through an offset or through a longer sequence.
    longer = randn(2, 3, m + T, d_head, seed=seed + 1, dtype=dtype)
    longer[..., m:, :] = x
    torch.testing.assert_close(rope(longer)[..., m:, :], y, **TOL[dtype])
    # <R_m q, R_n k> = <R_{m+s} q, R_{n+s} k>.
    q = randn(d_head, seed=seed + 2, dtype=dtype)[None, None, None]
    k = randn(d_head, seed=seed + 3, dtype=dtype)[None, None, None]
    dot = (rope(q, m) * rope(k, n)).sum()
    dot_shifted = (rope(q, m + shift) * rope(k, n + shift)).sum()
    torch.testing.assert_close(dot_shifted, dot, rtol=1e-4, atol=1e-4)


@PROFILE
@given(
    d_head=st.sampled_from([2, 4, 8, 16]),
    T=st.integers(1, 8),
    offset=st.integers(0, 20),
    seed=SEEDS,
)
def test_rope_interleaved_is_rotate_half_on_permuted_features(d_head, T, offset, seed):
    half, inter = tl.RotaryEmbedding(d_head), tl.RotaryEmbedding(d_head, interleaved=True)
    x = randn(1, 2, T, d_head, seed=seed, dtype=torch.float64)
    # Feature i of the "rotate half" layout is feature perm[i] of the interleaved one.
    perm = torch.cat([torch.arange(0, d_head, 2), torch.arange(1, d_head, 2)])
    torch.testing.assert_close(half(x[..., perm], offset), inter(x, offset)[..., perm])


@PROFILE
@given(H=st.integers(1, 12), T_q=st.integers(1, 8), extra=st.integers(0, 8))
def test_alibi_bias_is_a_distance_penalty_aligned_to_the_last_queries(H, T_q, extra):
    T_k = T_q + extra
    bias = tl.alibi_bias(H, T_q, T_k)
    assert bias.shape == (H, T_q, T_k)
    torch.testing.assert_close(bias, tl.alibi_bias(H, T_k)[:, T_k - T_q :])  # as with a cache
    assert (bias <= 0).all()
    diagonal = bias[:, torch.arange(T_q), torch.arange(extra, T_k)]
    assert (diagonal == 0).all()  # a query costs nothing to read itself
    slopes = tl.alibi_slopes(H)
    assert (slopes > 0).all() and (slopes < 1).all() and len(set(slopes.tolist())) == H
    # The penalty grows linearly with distance, head by head.
    distance = (torch.arange(extra, T_k)[:, None] - torch.arange(T_k)[None, :]).abs()
    torch.testing.assert_close(bias, -slopes[:, None, None] * distance.float())


# ------------------------------------------------------------------------------------------
# Norms and feed-forward networks
# ------------------------------------------------------------------------------------------


@PROFILE
@given(
    d=st.integers(1, 32),
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    rms=st.booleans(),
    dtype=DTYPES,
    a=st.floats(0.1, 50.0),
    seed=SEEDS,
)
def test_norms_match_pytorch_and_ignore_the_scale_of_each_token(d, lead, rms, dtype, a, seed):
    norm = tl.RMSNorm(d) if rms else tl.LayerNorm(d)
    ref = torch.nn.RMSNorm(d, eps=norm.eps) if rms else torch.nn.LayerNorm(d, eps=norm.eps)
    with torch.no_grad():
        norm.weight.copy_(randn(d, seed=seed))
        ref.weight.copy_(norm.weight)
        if not rms:
            norm.bias.copy_(randn(d, seed=seed + 1))
            ref.bias.copy_(norm.bias)
    x = randn(*lead, d, seed=seed + 2, std=3.0)
    y = norm(x.to(dtype))
    assert y.shape == x.shape and y.dtype == dtype
    work = torch.promote_types(dtype, torch.float32)  # half precision is normalised in float32
    expected = ref.to(work)(x.to(dtype).to(work))
    torch.testing.assert_close(y.to(work), expected, **TOL[dtype])
    # Each token is normalised on its own...
    torch.testing.assert_close(norm(x[..., :1, :].to(dtype)), y[..., :1, :], **TOL[dtype])
    # ...and scaling it (and, for LayerNorm, shifting it) changes nothing, unless the token is
    # so flat that eps weighs in its variance (d = 1: no variance at all, the output is the bias).
    if rms or d == 1 or x.var(-1, unbiased=False).min() > 1e-2:
        moved = a * x + (0.0 if rms else randn(*lead, 1, seed=seed + 3))
        torch.testing.assert_close(norm(moved.to(dtype)), y, rtol=5e-2, atol=5e-2)


@PROFILE
@given(
    d=st.integers(1, 32),
    d_ff=st.integers(1, 64),
    swiglu=st.booleans(),
    activation=st.sampled_from(["relu", "gelu", "gelu_tanh"]),
    bias=st.booleans(),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    seed=SEEDS,
)
def test_feed_forward_networks_act_on_each_position_alone(
    d, d_ff, swiglu, activation, bias, B, T, seed
):
    with seeded(seed):
        ff = (
            tl.SwiGLU(d, d_ff, bias=bias)
            if swiglu
            else tl.FeedForward(d, d_ff, activation=activation, bias=bias)
        ).double()
    x = randn(B, T, d, seed=seed, dtype=torch.float64)
    y = ff(x)
    assert y.shape == (B, T, d)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(ff(x[:, perm]), y[:, perm])
    torch.testing.assert_close(ff(x[:, -1:]), y[:, -1:])
    if swiglu and not bias:  # silu(0) * 0 = 0: the gated network maps 0 to 0
        assert (ff(torch.zeros_like(x)) == 0).all()


# ------------------------------------------------------------------------------------------
# Encoder and decoder stacks
# ------------------------------------------------------------------------------------------


@st.composite
def stack_configs(draw):
    d_model, H, kv = draw(head_configs(even_head=True))
    return dict(
        num_layers=draw(st.integers(1, 2)),
        d_model=d_model,
        num_heads=H,
        num_kv_heads=kv,
        d_ff=draw(st.sampled_from([8, 16])),
        norm_first=draw(st.booleans()),
        positional=draw(st.sampled_from(tl.modules.positions.POSITIONAL_KINDS)),
        max_len=16,
        activation=draw(st.sampled_from(["relu", "gelu", "gelu_tanh"])),
        norm=draw(st.sampled_from(["layer", "rms"])),
    )


@FEW
@given(
    cfg=stack_configs(),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    pad=st.integers(1, 4),
    is_causal=st.booleans(),
    dtype=DTYPES,
    seed=SEEDS,
)
def test_encoder_padding_never_changes_the_real_tokens(cfg, B, T, pad, is_causal, dtype, seed):
    with seeded(seed):
        enc = tl.Encoder(**cfg).to(dtype).eval()
    x = randn(B, T, cfg["d_model"], seed=seed, dtype=dtype)
    lengths = rand_ids(B, seed=seed, low=1, high=T + 1)
    mask = tl.padding_mask(lengths, T)
    out = enc(x, mask, is_causal=is_causal)
    assert out.shape == x.shape and out.dtype == dtype
    assert_finite(out)
    # Append padding positions with arbitrary content, and change the padded ones already there.
    junk = randn(B, T + pad, cfg["d_model"], seed=seed + 1, std=5, dtype=dtype)
    longer_mask = tl.padding_mask(lengths, T + pad)
    longer = torch.where(longer_mask[:, 0, 0, :, None], F.pad(x, (0, 0, 0, pad)), junk)
    out_longer = enc(longer, longer_mask, is_causal=is_causal)
    real = mask[:, 0, 0]
    torch.testing.assert_close(out_longer[:, :T][real], out[real], **TOL[dtype])


@FEW
@given(
    heads=head_configs(even_head=True),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    S=st.integers(1, 6),
    norm_first=st.booleans(),
    norm=st.sampled_from(["layer", "rms"]),
    bias=st.booleans(),
    rope=st.booleans(),
    seed=SEEDS,
)
def test_single_layers_mask_padding_and_report_cross_weights(
    heads, B, T, S, norm_first, norm, bias, rope, seed
):
    d_model, H, kv = heads
    options = dict(norm_first=norm_first, norm=norm, num_kv_heads=kv, bias=bias, rope=rope)
    with seeded(seed):
        enc = tl.EncoderLayer(d_model, H, 16, **options).eval()
        dec = tl.DecoderLayer(d_model, H, 16, **options).eval()
    src = randn(B, S, d_model, seed=seed)
    real = rand_bool(B, S, seed=seed + 1, p=0.7)  # any padding pattern
    src_mask = real[:, None, None, :]
    memory = enc(src, src_mask)
    memory2 = enc(torch.where(real[..., None], src, randn(B, S, d_model, seed=seed + 2)), src_mask)
    assert memory.shape == (B, S, d_model)
    torch.testing.assert_close(memory2[real], memory[real])
    x = randn(B, T, d_model, seed=seed + 3)
    out, weights = dec(x, memory, memory_mask=src_mask, return_cross_weights=True)
    assert out.shape == (B, T, d_model) and weights.shape == (B, H, T, S)
    assert_finite(out, weights)
    assert (weights.masked_select(~src_mask) == 0).all()  # padded memory gets no weight
    sums = weights.sum(-1)  # 1 per query, or 0 where a source is all padding
    torch.testing.assert_close(sums, real.any(-1)[:, None, None].float().expand_as(sums))
    torch.testing.assert_close(dec(x, memory, memory_mask=src_mask), out)


@FEW
@given(cfg=stack_configs(), B=st.integers(1, 2), T=st.integers(1, 6), seed=SEEDS)
def test_encoder_without_positions_is_permutation_equivariant(cfg, B, T, seed):
    cfg = {**cfg, "positional": None}
    with seeded(seed):
        enc = tl.Encoder(**cfg).double().eval()
    x = randn(B, T, cfg["d_model"], seed=seed, dtype=torch.float64)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(enc(x[:, perm]), enc(x)[:, perm])


@FEW
@given(
    cfg=stack_configs(),
    B=st.integers(1, 2),
    T=st.integers(2, 6),
    S=st.integers(1, 5),
    seed=SEEDS,
    data=st.data(),
)
def test_decoder_never_reads_the_future_and_ignores_padded_memory(cfg, B, T, S, seed, data):
    t = data.draw(st.integers(0, T - 2), label="t")
    with seeded(seed):
        dec = tl.Decoder(**cfg).eval()
    d = cfg["d_model"]
    x, mem = randn(B, T, d, seed=seed), randn(B, S, d, seed=seed + 1)
    real = rand_bool(B, S, seed=seed + 2, p=0.7)
    memory_mask = real[:, None, None, :]
    out = dec(x, mem, memory_mask=memory_mask)
    assert out.shape == (B, T, d)
    assert_finite(out)
    # Change the future targets and the padded memory.
    x2 = x.clone()
    x2[:, t + 1 :] = randn(B, T - t - 1, d, seed=seed + 3, std=3)
    mem2 = torch.where(real[..., None], mem, randn(B, S, d, seed=seed + 4, std=5))
    out2 = dec(x2, mem2, memory_mask=memory_mask)
    torch.testing.assert_close(out2[:, : t + 1], out[:, : t + 1], **TOL[torch.float32])


@FEW
@given(
    cfg=stack_configs(),
    B=st.integers(1, 2),
    T=st.integers(1, 6),
    S=st.integers(1, 4),
    seed=SEEDS,
    data=st.data(),
)
def test_decoder_cache_incremental_equals_full_pass(cfg, B, T, S, seed, data):
    chunks = data.draw(splits(T), label="chunks")
    with seeded(seed):
        dec = tl.Decoder(**cfg).eval()
    d = cfg["d_model"]
    x, mem = randn(B, T, d, seed=seed), randn(B, S, d, seed=seed + 1)
    memory_mask = rand_bool(B, S, seed=seed + 2, p=0.7)[:, None, None, :]
    full = dec(x, mem, memory_mask=memory_mask)
    caches, outs, start = dec.new_caches(), [], 0
    for n in chunks:
        outs.append(dec(x[:, start : start + n], mem, memory_mask=memory_mask, caches=caches))
        start += n
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **TOL[torch.float32])


@FEW
@given(
    positional=st.sampled_from(tl.modules.positions.POSITIONAL_KINDS),
    norm_first=st.booleans(),
    B=st.integers(1, 3),
    S=st.integers(1, 5),
    T=st.integers(2, 5),
    pad=st.integers(1, 3),
    seed=SEEDS,
    data=st.data(),
)
def test_transformer_ignores_source_padding_and_the_future(
    positional, norm_first, B, S, T, pad, seed, data
):
    t = data.draw(st.integers(0, T - 2), label="t")
    with seeded(seed):
        model = tl.Transformer(
            11,
            13,
            d_model=16,
            num_heads=2,
            num_layers=1,
            d_ff=16,
            max_len=12,
            positional=positional,
            norm_first=norm_first,
        ).eval()
    src = rand_ids(B, S, seed=seed, low=1, high=11)
    tgt = rand_ids(B, T, seed=seed + 1, low=1, high=13)
    logits = model(src, tgt)
    assert logits.shape == (B, T, 13)
    assert_finite(logits)
    # Pad the sources further, and change the target after position t (pad ids included).
    padded = F.pad(src, (0, pad), value=model.pad_id)
    tgt2 = tgt.clone()
    tgt2[:, t + 1 :] = rand_ids(B, T - t - 1, seed=seed + 2, high=13)
    torch.testing.assert_close(
        model(padded, tgt2)[:, : t + 1], logits[:, : t + 1], **TOL[torch.float32]
    )


# ------------------------------------------------------------------------------------------
# GPT
# ------------------------------------------------------------------------------------------


@st.composite
def gpt_configs(draw):
    d_model, H, kv = draw(head_configs(even_head=True))
    return tl.GPTConfig(
        vocab_size=draw(st.integers(2, 20)),
        max_len=12,
        d_model=d_model,
        num_heads=H,
        num_kv_heads=draw(st.sampled_from([None, kv])),
        num_layers=draw(st.integers(1, 2)),
        d_ff=draw(st.sampled_from([None, 8, 24])),
        positional=draw(st.sampled_from(["learned", "rope"])),
        tie_embeddings=draw(st.booleans()),
        bias=draw(st.booleans()),
        activation=draw(st.sampled_from(["gelu_tanh", "gelu", "relu", "swiglu"])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        rope_interleaved=draw(st.booleans()),
    )


@FEW
@given(
    cfg=gpt_configs(),
    B=st.integers(1, 3),
    T=st.integers(2, 10),
    dtype=st.sampled_from([torch.float32, torch.bfloat16]),
    seed=SEEDS,
    data=st.data(),
)
def test_gpt_never_reads_the_future(cfg, B, T, dtype, seed, data):
    t = data.draw(st.integers(0, T - 2), label="t")
    with seeded(seed):
        gpt = tl.GPT(cfg).to(dtype).eval()
    idx = rand_ids(B, T, seed=seed, high=cfg.vocab_size)
    logits = gpt(idx)
    assert logits.shape == (B, T, cfg.vocab_size)
    assert gpt(idx, return_hidden=True).shape == (B, T, cfg.d_model)
    assert_finite(logits)
    idx2 = idx.clone()
    idx2[:, t + 1 :] = rand_ids(B, T - t - 1, seed=seed + 1, high=cfg.vocab_size)
    assert logits.dtype == dtype
    torch.testing.assert_close(gpt(idx2)[:, : t + 1], logits[:, : t + 1], **TOL[dtype])


@FEW
@given(
    cfg=gpt_configs(),
    B=st.integers(1, 2),
    T=st.integers(1, 10),
    capacity=st.sampled_from([None, 4, 12]),
    seed=SEEDS,
    data=st.data(),
)
def test_gpt_cache_incremental_equals_full_pass(cfg, B, T, capacity, seed, data):
    chunks = data.draw(splits(T), label="chunks")
    with seeded(seed):
        gpt = tl.GPT(cfg).eval()
    idx = rand_ids(B, T, seed=seed, high=cfg.vocab_size)
    full = gpt(idx)
    caches, outs, start = gpt.new_caches(capacity), [], 0
    for n in chunks:
        outs.append(gpt(idx[:, start : start + n], caches=caches))
        start += n
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **TOL[torch.float32])


@FEW
@given(
    cfg=gpt_configs(), B=st.integers(1, 2), T=st.integers(1, 4), new=st.integers(0, 6), seed=SEEDS
)
def test_gpt_greedy_generation_is_the_same_with_and_without_cache(cfg, B, T, new, seed):
    with seeded(seed):
        gpt = tl.GPT(cfg).eval()
    idx = rand_ids(B, T, seed=seed, high=cfg.vocab_size)
    with torch.no_grad():
        cached = gpt.generate(idx, new, temperature=0)
        recomputed = gpt.generate(idx, new, temperature=0, use_cache=False)
    assert cached.shape == (B, T + new)
    assert torch.equal(cached[:, :T], idx)
    assert torch.equal(cached, recomputed)


# ------------------------------------------------------------------------------------------
# BERT and mean_pool
# ------------------------------------------------------------------------------------------


@st.composite
def bert_configs(draw):
    d_model, H, _ = draw(head_configs())
    return tl.BERTConfig(
        vocab_size=draw(st.integers(3, 20)),
        max_len=12,
        d_model=d_model,
        num_heads=H,
        num_layers=draw(st.integers(1, 2)),
        d_ff=draw(st.sampled_from([8, 16])),
        dropout=0.0,
        num_labels=draw(st.integers(1, 3)),
        classifier_pooling=draw(st.sampled_from(["cls", "mean"])),
    )


@FEW
@given(
    cfg=bert_configs(),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    pad=st.integers(1, 4),
    head=st.sampled_from(["encoder", "mlm", "classifier", "qa"]),
    seed=SEEDS,
)
def test_bert_padding_never_changes_the_real_tokens(cfg, B, T, pad, head, seed):
    with seeded(seed):
        model = {
            "encoder": tl.BERT,
            "mlm": tl.BERTForMaskedLM,
            "classifier": tl.BERTForSequenceClassification,
            "qa": tl.BERTForQuestionAnswering,
        }[head](cfg).eval()

    def run(ids, attention_mask, types):
        out = model(ids, attention_mask, types)
        if head == "qa":  # a start and an end logit per token: (B, T, 2)
            return torch.stack([out.start_logits, out.end_logits], dim=-1)
        return out if head == "encoder" else out.logits

    ids = rand_ids(B, T, seed=seed, low=1, high=cfg.vocab_size)
    types = rand_ids(B, T, seed=seed + 1, high=2)
    # Real tokens: position 0 ([CLS]) and a random pattern of the others.
    attention_mask = rand_bool(B, T, seed=seed + 2, p=0.7)
    attention_mask[:, 0] = True
    out = run(ids, attention_mask.long(), types)
    per_token = head != "classifier"
    shapes = {"encoder": (B, T, cfg.d_model), "mlm": (B, T, cfg.vocab_size), "qa": (B, T, 2)}
    assert out.shape == shapes.get(head, (B, cfg.num_labels))
    assert_finite(out)
    # Change the ids at the padded positions and append more padding.
    junk = rand_ids(B, T + pad, seed=seed + 3, high=cfg.vocab_size)
    longer_mask = F.pad(attention_mask, (0, pad), value=False)
    longer = torch.where(longer_mask, F.pad(ids, (0, pad)), junk)
    out2 = run(longer, longer_mask.long(), F.pad(types, (0, pad)))
    if per_token:
        torch.testing.assert_close(out2[:, :T][attention_mask], out[attention_mask])
    else:
        torch.testing.assert_close(out2, out)


@PROFILE
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    d=st.integers(1, 8),
    p=st.sampled_from([0.0, 0.5, 1.0]),
    seed=SEEDS,
)
def test_mean_pool_averages_the_real_tokens_only(B, T, d, p, seed):
    h = randn(B, T, d, seed=seed, dtype=torch.float64)
    m = rand_bool(B, T, seed=seed + 1, p=p)
    pooled = tl.mean_pool(h, m.long())
    assert pooled.shape == (B, d)
    assert_finite(pooled)
    for b in range(B):
        expected = h[b, m[b]].mean(0) if m[b].any() else torch.zeros(d, dtype=h.dtype)
        torch.testing.assert_close(pooled[b], expected)
    # Padded vectors can hold anything; order does not matter.
    h2 = torch.where(m[..., None], h, randn(B, T, d, seed=seed + 2, dtype=h.dtype, std=9))
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(tl.mean_pool(h2[:, perm], m[:, perm]), pooled)
    torch.testing.assert_close(tl.mean_pool(h), h.mean(1))


# ------------------------------------------------------------------------------------------
# greedy_decode and beam_search
# ------------------------------------------------------------------------------------------


@FEW
@given(
    B=st.integers(1, 3),
    S=st.integers(1, 5),
    max_len=st.integers(1, 7),
    beam_size=st.integers(1, 3),
    positional=st.sampled_from(tl.modules.positions.POSITIONAL_KINDS),
    seed=SEEDS,
)
def test_decoding_each_source_alone_equals_decoding_the_batch(
    B, S, max_len, beam_size, positional, seed
):
    with seeded(seed):
        model = tl.Transformer(
            7,
            6,
            d_model=8,
            num_heads=2,
            num_layers=1,
            d_ff=16,
            dropout=0.0,
            max_len=8,
            positional=positional,
        ).eval()
    bos, eos, pad = 1, 2, model.pad_id
    src = rand_ids(B, S, seed=seed, low=1, high=7)
    src = src.masked_fill(rand_bool(B, S, seed=seed + 1, p=0.3), pad)  # random padding

    def check(out):
        assert out.shape[0] == B and 1 <= out.shape[1] <= max_len
        assert (out[:, 0] == bos).all()
        for row in out.tolist():
            end = row.index(eos) if eos in row else len(row)
            assert pad not in row[:end]  # no pad is generated...
            assert all(tok == pad for tok in row[end + 1 :])  # ...except after EOS

    greedy = tl.greedy_decode(model, src, bos_id=bos, eos_id=eos, max_len=max_len)
    beam = tl.beam_search(model, src, bos_id=bos, eos_id=eos, max_len=max_len, beam_size=beam_size)
    check(greedy)
    check(beam)
    # Greedy decoding with caches picks what a full forward pass over the prefix picks.
    with torch.no_grad():
        prefix = torch.full((B, 1), bos)
        finished = torch.zeros(B, dtype=torch.bool)
        while prefix.shape[1] < greedy.shape[1]:
            logits = model(src, prefix)[:, -1]
            logits[:, pad] = NEG_INF  # pad is never generated
            token = logits.argmax(-1).masked_fill(finished, pad)
            prefix = torch.cat([prefix, token[:, None]], dim=1)
            finished |= token == eos
    assert torch.equal(greedy, prefix)
    if beam_size == 1:  # one beam is greedy decoding
        assert torch.equal(beam, greedy[:, : beam.shape[1]])
        assert (greedy[:, beam.shape[1] :] == pad).all()
    for b in range(B):
        for batch_out, decode in ((greedy, tl.greedy_decode), (beam, tl.beam_search)):
            kwargs = {"beam_size": beam_size} if decode is tl.beam_search else {}
            alone = decode(
                model, src[b : b + 1], bos_id=bos, eos_id=eos, max_len=max_len, **kwargs
            )[0]
            assert torch.equal(batch_out[b, : len(alone)], alone)
            assert (batch_out[b, len(alone) :] == pad).all()


# --------------------------------------------------------------------------------------------
# The Vision Transformer
# --------------------------------------------------------------------------------------------


@st.composite
def vit_configs(draw):
    d_model, H, _ = draw(head_configs())
    return tl.ViTConfig(
        image_size=draw(st.sampled_from([4, 8])),
        patch_size=draw(st.sampled_from([1, 2, 4])),  # each divides both image sizes
        num_channels=draw(st.integers(1, 3)),
        d_model=d_model,
        num_heads=H,
        num_layers=draw(st.integers(1, 2)),
        d_ff=draw(st.sampled_from([8, 16])),
        num_labels=draw(st.integers(1, 4)),
    )


def shuffle_patches(images: Tensor, patch_size: int, perm: Tensor) -> Tensor:
    """Move the ``P x P`` patches of ``(B, C, H, W)`` images to the places ``perm`` gives."""
    B, C, H, W = images.shape
    P, rows, cols = patch_size, H // patch_size, W // patch_size
    patches = images.reshape(B, C, rows, P, cols, P).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(B, rows * cols, C, P, P)[:, perm]
    patches = patches.reshape(B, rows, cols, C, P, P).permute(0, 3, 1, 4, 2, 5)
    return patches.reshape(B, C, H, W)


@FEW
@given(cfg=vit_configs(), B=st.integers(1, 3), seed=SEEDS)
def test_vit_images_are_independent_and_without_positions_a_bag_of_patches(cfg, B, seed):
    with seeded(seed):
        model = tl.ViTForImageClassification(cfg).eval()
    S, C = cfg.image_size, cfg.num_channels
    N = cfg.num_patches
    images = randn(B, C, S, S, seed=seed)
    logits, attentions = model(images, return_attentions=True)
    assert logits.shape == (B, cfg.num_labels)
    assert_finite(logits)
    assert len(attentions) == cfg.num_layers
    for a in attentions:
        assert a.shape == (B, cfg.num_heads, N + 1, N + 1)
        torch.testing.assert_close(a.sum(-1), torch.ones(B, cfg.num_heads, N + 1))
    # Each image's logits are its own: the same alone as in the batch.
    for b in range(B):
        torch.testing.assert_close(
            model(images[b : b + 1]), logits[b : b + 1], **TOL[torch.float32]
        )
    # Without position embeddings, a ViT sees a set of patches: where a patch sits in the
    # image cannot change the [CLS] output (attention is permutation-equivariant, chapter 3).
    with torch.no_grad():
        model.vit.position_embeddings.zero_()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    shuffled = shuffle_patches(images, cfg.patch_size, perm)
    torch.testing.assert_close(model(shuffled), model(images), **TOL[torch.float32])
    # shuffle_patches really moved the patches: patchify sees the permuted sequence.
    torch.testing.assert_close(
        tl.patchify(shuffled, cfg.patch_size), tl.patchify(images, cfg.patch_size)[:, perm]
    )
