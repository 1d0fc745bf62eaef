"""Tests of normalization, the Transformer block, the encoder and the learning-rate schedules
(transformer_lib.modules.norms, transformer_lib.layers, transformer_lib.schedules).

The independent references are PyTorch's ``nn.LayerNorm``, ``nn.RMSNorm``,
``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` with our weights copied into them,
and formulas written out by hand.
"""

import math
import time

import pytest
import torch
import torch.nn.functional as F
from seeded import randn, randomize_
from torch import nn

import transformer_lib as tl

DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
SHAPES = pytest.mark.parametrize("shape", [(8,), (3, 8), (2, 5, 16), (2, 3, 4, 32)])


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


@DTYPES
@SHAPES
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_layer_norm_matches_torch(shape, dtype, bias):
    d = shape[-1]
    ours = randomize_(tl.LayerNorm(d, bias=bias).to(dtype))
    ref = nn.LayerNorm(d, bias=bias).to(dtype)
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        if bias:
            ref.bias.copy_(ours.bias)
    x = randn(*shape, seed=1, dtype=dtype) * 3 + 2
    out = ours(x)
    assert out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, ref(x))
    assert sum(p.numel() for p in ours.parameters()) == (2 if bias else 1) * d


@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_layer_norm_formula_and_eps(eps):
    ln = tl.LayerNorm(6, eps=eps).double()
    x = randn(4, 6, dtype=torch.float64)
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # population variance
    torch.testing.assert_close(ln(x), (x - mean) / torch.sqrt(var + eps))
    torch.testing.assert_close(ln(x), F.layer_norm(x, (6,), eps=eps))


def test_layer_norm_gradcheck_float64():
    ln = randomize_(tl.LayerNorm(5).double())
    x = randn(3, 5, dtype=torch.float64).requires_grad_()
    w = ln.weight.detach().clone().requires_grad_()
    b = ln.bias.detach().clone().requires_grad_()

    def f(x, w, b):
        return torch.func.functional_call(ln, {"weight": w, "bias": b}, (x,))

    assert torch.autograd.gradcheck(f, (x, w, b))


@pytest.mark.parametrize("value", [0.0, 3.0, -1e4])
def test_layer_norm_constant_input_is_finite(value):
    ln = randomize_(tl.LayerNorm(8))
    x = torch.full((2, 8), value, requires_grad=True)
    out = ln(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ln.bias.detach().expand(2, 8))  # normalised part is zero
    (out * randn(2, 8)).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(ln.weight.grad).all() and torch.isfinite(ln.bias.grad).all()


@pytest.mark.parametrize("norm_cls", [tl.LayerNorm, tl.RMSNorm], ids=["layer", "rms"])
def test_bfloat16_input_gives_bfloat16_output(norm_cls):
    norm = randomize_(norm_cls(32))
    x = randn(4, 32) * 5 + 3
    out = norm(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), norm(x), atol=5e-2, rtol=2e-2)
    # The whole module in bfloat16 too.
    norm_bf16 = norm_cls(32).bfloat16()
    norm_bf16.load_state_dict(norm.state_dict())
    out = norm_bf16(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), norm(x), atol=5e-2, rtol=2e-2)


# --------------------------------------------------------------------------------------------
# RMSNorm
# --------------------------------------------------------------------------------------------


@DTYPES
@SHAPES
@pytest.mark.parametrize("eps", [1e-6, 1e-2])
def test_rms_norm_matches_definition_and_torch(shape, dtype, eps):
    d = shape[-1]
    ours = randomize_(tl.RMSNorm(d, eps=eps).to(dtype))
    x = randn(*shape, seed=1, dtype=dtype) * 3 + 2
    definition = x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps) * ours.weight
    out = ours(x)
    assert out.dtype == dtype
    torch.testing.assert_close(out, definition)
    if hasattr(nn, "RMSNorm"):  # PyTorch >= 2.4
        ref = nn.RMSNorm(d, eps=eps).to(dtype)
        with torch.no_grad():
            ref.weight.copy_(ours.weight)
        torch.testing.assert_close(out, ref(x))
    assert [n for n, _ in ours.named_parameters()] == ["weight"]  # no bias


def test_rms_norm_does_not_centre():
    """Unlike LayerNorm, adding a constant changes the output."""
    rms, ln = tl.RMSNorm(8), tl.LayerNorm(8)
    x = randn(3, 8)
    torch.testing.assert_close(ln(x + 5), ln(x), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(rms(x + 5), rms(x), atol=1e-2)
    torch.testing.assert_close(rms(3 * x), rms(x), atol=1e-5, rtol=1e-5)  # scale invariant


@pytest.mark.parametrize("value", [0.0, 2.0])
def test_rms_norm_constant_and_zero_input_is_finite(value):
    rms = randomize_(tl.RMSNorm(8))
    x = torch.full((2, 8), value, requires_grad=True)
    out = rms(x)
    assert torch.isfinite(out).all()
    expected = value / math.sqrt(value**2 + rms.eps) * rms.weight.detach()
    torch.testing.assert_close(out, expected.expand(2, 8))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(rms.weight.grad).all()


def test_rms_norm_gradcheck_float64():
    rms = randomize_(tl.RMSNorm(5).double())
    x = randn(3, 5, dtype=torch.float64).requires_grad_()
    w = rms.weight.detach().clone().requires_grad_()
    f = lambda x, w: torch.func.functional_call(rms, {"weight": w}, (x,))  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, w))


@pytest.mark.parametrize("norm_cls", [tl.LayerNorm, tl.RMSNorm], ids=["layer", "rms"])
def test_norm_bad_input_raises(norm_cls):
    with pytest.raises(ValueError, match="d_model"):
        norm_cls(8)(randn(2, 7))
    for bad in (0, 8.0, True):
        with pytest.raises(ValueError, match="d_model"):
            norm_cls(bad)


def test_make_norm():
    assert isinstance(tl.modules.norms.make_norm("layer", 8), tl.LayerNorm)
    assert isinstance(tl.modules.norms.make_norm("rms", 8), tl.RMSNorm)
    with pytest.raises(ValueError, match="norm"):
        tl.modules.norms.make_norm("batch", 8)


# --------------------------------------------------------------------------------------------
# FeedForward and ResidualSublayer
# --------------------------------------------------------------------------------------------


def gelu_by_hand(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_feed_forward_by_hand(activation, bias):
    ff = randomize_(tl.FeedForward(8, 24, activation=activation, bias=bias).double())
    x = randn(2, 5, 8, dtype=torch.float64)
    act = (lambda h: h.clamp_min(0)) if activation == "relu" else gelu_by_hand
    W1, W2 = ff.linear1.weight, ff.linear2.weight
    b1 = ff.linear1.bias if bias else 0
    b2 = ff.linear2.bias if bias else 0
    expected = act(x @ W1.T + b1) @ W2.T + b2
    torch.testing.assert_close(ff(x), expected)
    assert W1.shape == (24, 8) and W2.shape == (8, 24)


def test_feed_forward_is_position_wise():
    ff = randomize_(tl.FeedForward(8, 16))
    x = randn(2, 5, 8)
    torch.testing.assert_close(ff(x)[:, 3], ff(x[:, 3]))


def test_feed_forward_dropout_only_in_training():
    ff = randomize_(tl.FeedForward(8, 64, dropout=0.5))
    x = randn(4, 5, 8)
    ff.eval()
    assert torch.equal(ff(x), ff(x))
    ff.train()
    torch.manual_seed(0)
    assert not torch.allclose(ff(x), ff(x))


def test_feed_forward_bad_activation_raises():
    with pytest.raises(ValueError, match="activation"):
        tl.FeedForward(8, 16, activation="swish")


@pytest.mark.parametrize("norm", ["layer", "rms"])
@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-ln", "post-ln"])
def test_residual_sublayer_order(norm_first, norm):
    res = randomize_(tl.ResidualSublayer(8, norm_first=norm_first, norm=norm).double())
    f = randomize_(nn.Linear(8, 8).double(), seed=1)
    x = randn(2, 5, 8, dtype=torch.float64)
    w = res.norm.weight

    def normalise(h):  # written out, with the sublayer's own weights
        if norm == "rms":
            return h / torch.sqrt((h**2).mean(-1, keepdim=True) + res.norm.eps) * w
        return F.layer_norm(h, (8,), w, res.norm.bias, eps=res.norm.eps)

    expected = x + f(normalise(x)) if norm_first else normalise(x + f(x))
    torch.testing.assert_close(res(x, f), expected)
    assert res.norm_first is norm_first


def test_residual_sublayer_dropout_only_in_training():
    res = tl.ResidualSublayer(8, dropout=0.5, norm_first=True)
    f = randomize_(nn.Linear(8, 8))
    x = randn(4, 5, 8)
    res.eval()
    torch.testing.assert_close(res(x, f), x + f(res.norm(x)))
    res.train()
    torch.manual_seed(0)
    assert not torch.allclose(res(x, f), res(x, f))


# --------------------------------------------------------------------------------------------
# EncoderLayer and Encoder against PyTorch
# --------------------------------------------------------------------------------------------


def copy_layer_into_torch(ours, ref):
    d = ours.self_attn.d_model
    attn = ours.self_attn
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(
            torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        )
        ref.self_attn.in_proj_bias.copy_(
            torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
        )
        ref.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
        ref.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
        for name in ("linear1", "linear2"):
            getattr(ref, name).load_state_dict(getattr(ours.ff, name).state_dict())
        ref.norm1.load_state_dict(ours.attn_residual.norm.state_dict())
        ref.norm2.load_state_dict(ours.ff_residual.norm.state_dict())
    assert ref.self_attn.in_proj_weight.shape == (3 * d, d)


def torch_layer(ours, d, heads, d_ff, norm_first, activation):
    ref = nn.TransformerEncoderLayer(
        d, heads, d_ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )
    ref = ref.to(ours.ff.linear1.weight.dtype)
    copy_layer_into_torch(ours, ref)
    return ref.eval()


LAYER_CASES = ["plain", "padding", "causal", "causal+padding"]


def masks_for(case, B, T):
    """Our (mask, is_causal) and torch's (src_mask, src_key_padding_mask) for one case."""
    pad = tl.padding_mask(torch.tensor([T, T - 2, 1][:B]), T) if "padding" in case else None
    causal = "causal" in case
    ours = (pad, causal)
    theirs = (
        ~tl.causal_mask(T) if causal else None,
        ~pad[:, 0, 0] if pad is not None else None,
    )
    return ours, theirs


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "grad"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_encoder_layer_matches_torch(norm_first, case, activation, grad):
    d, heads, d_ff, B, T = 16, 4, 40, 3, 6
    torch.manual_seed(0)
    ours = tl.EncoderLayer(d, heads, d_ff, norm_first=norm_first, activation=activation)
    ours = randomize_(ours).eval()
    assert ours.norm_first is norm_first
    ref = torch_layer(ours, d, heads, d_ff, norm_first, activation)
    x = randn(B, T, d, seed=1)
    (mask, is_causal), (src_mask, src_pad) = masks_for(case, B, T)
    # Under no_grad PyTorch may take its fused "fast path"; with grad it takes the plain one.
    with torch.set_grad_enabled(grad):
        out = ours(x, mask, is_causal=is_causal)
        expected = ref(x, src_mask=src_mask, src_key_padding_mask=src_pad)
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_encoder_layer_matches_torch_float64(norm_first):
    d, heads, d_ff = 8, 2, 16
    torch.manual_seed(0)
    ours = randomize_(tl.EncoderLayer(d, heads, d_ff, norm_first=norm_first).double()).eval()
    ref = torch_layer(ours, d, heads, d_ff, norm_first, "relu")
    x = randn(2, 5, d, seed=1, dtype=torch.float64)
    pad = tl.padding_mask(torch.tensor([5, 3]), 5)
    torch.testing.assert_close(ours(x, pad), ref(x, src_key_padding_mask=~pad[:, 0, 0]))


def test_encoder_layer_default_d_ff_and_norm_kind():
    layer = tl.EncoderLayer(16, 4)
    assert layer.ff.linear1.weight.shape == (64, 16)
    rms_layer = tl.EncoderLayer(16, 4, norm="rms")
    assert isinstance(rms_layer.attn_residual.norm, tl.RMSNorm)
    assert isinstance(rms_layer.ff_residual.norm, tl.RMSNorm)
    assert rms_layer(randn(2, 3, 16)).shape == (2, 3, 16)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_encoder_equals_layers_in_sequence(norm_first):
    d, heads, d_ff = 16, 4, 32
    torch.manual_seed(0)
    enc = tl.Encoder(3, d, heads, d_ff, positional=None, norm_first=norm_first)
    enc = randomize_(enc).double().eval()
    assert len(enc.layers) == 3
    layers = []
    for i in range(3):
        layer = tl.EncoderLayer(d, heads, d_ff, norm_first=norm_first).double().eval()
        layer.load_state_dict(enc.layers[i].state_dict())
        layers.append(layer)
    x = randn(2, 6, d, dtype=torch.float64)
    pad = tl.padding_mask(torch.tensor([6, 4]), 6)
    for mask, is_causal in ((None, False), (pad, False), (pad, True)):
        h = x
        for layer in layers:
            h = layer(h, mask, is_causal=is_causal)
        if norm_first:  # Pre-LN stacks end with a final norm
            assert isinstance(enc.final_norm, tl.LayerNorm)
            w, b = enc.final_norm.weight, enc.final_norm.bias
            h = F.layer_norm(h, (d,), w, b, eps=enc.final_norm.eps)
        else:
            assert not any(True for _ in enc.final_norm.parameters())
        torch.testing.assert_close(enc(x, mask, is_causal=is_causal), h)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_encoder_matches_torch_transformer_encoder(norm_first):
    d, heads, d_ff, n = 16, 4, 32, 2
    torch.manual_seed(0)
    enc = randomize_(tl.Encoder(n, d, heads, d_ff, norm_first=norm_first)).eval()
    layer = nn.TransformerEncoderLayer(
        d, heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first
    )
    final = nn.LayerNorm(d) if norm_first else None
    ref = nn.TransformerEncoder(layer, n, norm=final, enable_nested_tensor=False).eval()
    for ours_layer, ref_layer in zip(enc.layers, ref.layers, strict=True):
        copy_layer_into_torch(ours_layer, ref_layer)
    if norm_first:
        ref.norm.load_state_dict(enc.final_norm.state_dict())
    x = randn(3, 7, d, seed=2)
    pad = tl.padding_mask(torch.tensor([7, 5, 2]), 7)
    out = enc(x, pad)
    expected = ref(x, src_key_padding_mask=~pad[:, 0, 0])
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("is_causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("positional", [None, "sinusoidal", "learned", "rope", "alibi"])
def test_every_positional_kind_is_finite_under_padding(positional, is_causal):
    torch.manual_seed(0)
    enc = tl.Encoder(2, 16, 4, d_ff=32, dropout=0.1, positional=positional, max_len=8)
    enc.train()
    x = randn(3, 8, 16, seed=1).requires_grad_()
    mask = tl.padding_mask(torch.tensor([8, 3, 0]), 8)  # the last example is all padding
    out = enc(x, mask, is_causal=is_causal)
    assert out.shape == (3, 8, 16)
    assert torch.isfinite(out).all()
    out[:2].square().sum().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # Padded keys have no influence on real tokens.
    enc.eval()
    x2 = x.detach().clone()
    x2[1, 3:] = 100 * randn(5, 16, seed=3)
    torch.testing.assert_close(enc(x2, mask)[1, :3], enc(x.detach(), mask)[1, :3])


def test_encoder_positional_modules():
    assert tl.Encoder(1, 8, 2, positional=None).position is None
    sinusoidal = tl.Encoder(1, 8, 2, positional="sinusoidal", max_len=20)
    assert isinstance(sinusoidal.position, tl.SinusoidalPositionalEncoding)
    learned = tl.Encoder(1, 8, 2, positional="learned", max_len=20)
    assert isinstance(learned.position, tl.LearnedPositionalEmbedding)
    assert learned.position.embedding.weight.shape == (20, 8)
    rope = tl.Encoder(2, 8, 2, positional="rope")
    assert all(layer.self_attn.rotary is not None for layer in rope.layers)
    assert all(layer.self_attn.rotary is None for layer in learned.layers)
    with pytest.raises(ValueError, match="max_len"):
        learned(randn(1, 21, 8))


def test_encoder_alibi_equals_bias_mask_on_a_plain_encoder():
    """ALiBi is nothing but a float mask: a plain encoder given the bias does the same."""
    torch.manual_seed(0)
    alibi = randomize_(tl.Encoder(2, 16, 4, d_ff=32, positional="alibi")).double().eval()
    plain = tl.Encoder(2, 16, 4, d_ff=32, positional=None).double().eval()
    plain.load_state_dict(alibi.state_dict())
    x = randn(2, 6, 16, dtype=torch.float64)
    bias = tl.alibi_bias(4, 6, dtype=torch.float64)[None]
    torch.testing.assert_close(alibi(x), plain(x, bias))
    pad = tl.padding_mask(torch.tensor([6, 4]), 6)
    torch.testing.assert_close(alibi(x, pad), plain(x, bias.masked_fill(~pad, float("-inf"))))


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"positional": "absolute"}, "positional"),
        ({"positional": "Rope"}, "positional"),
        ({"num_layers": 0}, "num_layers"),
        ({"norm": "batch"}, "norm"),
        ({"activation": "tanh"}, "activation"),
    ],
)
def test_encoder_bad_arguments_raise(kwargs, pattern):
    args = {"num_layers": 2, "d_model": 16, "num_heads": 4} | kwargs
    with pytest.raises(ValueError, match=pattern):
        tl.Encoder(**args)


# --------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------


def factors(make_scheduler, steps, base_lr=2.0):
    """The learning rate of each optimisation step, divided by the base rate."""
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"] / base_lr)
        opt.step()
        sched.step()
    return out


def test_warmup_schedule_rises_linearly_then_stays_at_one():
    w = 5
    f = factors(lambda opt: tl.warmup_schedule(opt, w), 20)
    for step in range(w):
        assert f[step] == pytest.approx((step + 1) / w)
    assert all(x == pytest.approx(1.0) for x in f[w - 1 :])
    assert all(a < b for a, b in zip(f[:w], f[1:w], strict=False))
    assert factors(lambda opt: tl.warmup_schedule(opt, 0), 3) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("d_model,w", [(512, 400), (64, 10)])
def test_noam_schedule_matches_the_paper(d_model, w):
    n = 3 * w
    f = factors(lambda opt: tl.noam_schedule(opt, d_model, w), n, base_lr=1.0)
    for step in range(n):
        s = step + 1
        assert f[step] == pytest.approx(d_model**-0.5 * min(s**-0.5, s * w**-1.5))
    peak = max(range(n), key=f.__getitem__)
    assert peak == w - 1
    assert f[peak] == pytest.approx((d_model * w) ** -0.5)
    assert all(a < b for a, b in zip(f[:w], f[1:w], strict=False))  # linear warm-up
    assert all(a > b for a, b in zip(f[w - 1 :], f[w:], strict=False))  # 1/sqrt decay
    assert f[4 * w - 1 - w] == pytest.approx(f[w - 1] * math.sqrt(w / (3 * w)))


@pytest.mark.parametrize("min_factor", [0.0, 0.1])
@pytest.mark.parametrize("warmup", [0, 10])
def test_cosine_schedule(warmup, min_factor):
    total = 50
    f = factors(lambda opt: tl.cosine_schedule(opt, warmup, total, min_factor), total + 10)
    for step in range(warmup):
        assert f[step] == pytest.approx((step + 1) / warmup)
    assert f[warmup] == pytest.approx(1.0)
    decay = f[warmup : total + 1]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert decay[0] > decay[-1]
    assert f[total] == pytest.approx(min_factor, abs=1e-12)
    assert all(x == pytest.approx(min_factor, abs=1e-12) for x in f[total:])
    # Halfway through the decay the factor is halfway between 1 and min_factor.
    mid = warmup + (total - warmup) // 2
    assert f[mid] == pytest.approx((1 + min_factor) / 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: tl.warmup_schedule(opt, -1),
        lambda opt: tl.warmup_schedule(opt, 2.5),
        lambda opt: tl.noam_schedule(opt, 512, 0),
        lambda opt: tl.noam_schedule(opt, 0, 100),
        lambda opt: tl.cosine_schedule(opt, 10, 5),
        lambda opt: tl.cosine_schedule(opt, 0, 0),
        lambda opt: tl.cosine_schedule(opt, -1, 10),
    ],
    ids=[
        "warmup<0",
        "warmup float",
        "noam w=0",
        "noam d=0",
        "cos w>total",
        "cos total=0",
        "cos w<0",
    ],
)
def test_schedules_reject_bad_arguments(make):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps|total_steps|d_model"):
        make(opt)


# --------------------------------------------------------------------------------------------
# A small training run that must learn
# --------------------------------------------------------------------------------------------


class ShiftModel(nn.Module):
    def __init__(self, vocab, d_model, T):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.encoder = tl.Encoder(
            2, d_model, 4, d_ff=64, positional="learned", max_len=T, norm_first=True
        )
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)))


@pytest.mark.slow
def test_encoder_learns_to_shift_a_sequence_by_one(one_thread):
    """Output at position i must be the input at i - 1: only positions can tell which that is."""
    vocab, T, batch = 8, 10, 64
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = ShiftModel(vocab, 32, T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = tl.warmup_schedule(opt, 20)

    def accuracy(tokens):
        model.eval()
        with torch.no_grad():
            pred = model(tokens)[:, 1:].argmax(-1)
        model.train()
        return (pred == tokens[:, :-1]).float().mean().item()

    test_tokens = torch.randint(vocab, (256, T), generator=torch.Generator().manual_seed(2))
    start = time.perf_counter()
    acc_before = accuracy(test_tokens)
    acc = 0.0
    for step in range(500):
        tokens = torch.randint(vocab, (batch, T), generator=g)
        logits = model(tokens)[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, :-1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 25 == 24:
            acc = accuracy(test_tokens)
            if acc > 0.99:
                break
    elapsed = time.perf_counter() - start
    assert acc_before < 0.3  # chance is 1/8: the model did not start out knowing
    assert acc > 0.95, f"accuracy {acc:.3f} after {step + 1} steps ({elapsed:.1f} s)"


def test_feed_forward_gelu_tanh_by_hand():
    """GPT-2's GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written out by hand."""
    ff = randomize_(tl.FeedForward(8, 24, activation="gelu_tanh").double())
    x = randn(2, 5, 8, dtype=torch.float64)
    h = x @ ff.linear1.weight.T + ff.linear1.bias
    act = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(ff(x), act @ ff.linear2.weight.T + ff.linear2.bias)
    # It is an approximation: close to the exact GELU, but not equal to it.
    exact = tl.FeedForward(8, 24, activation="gelu").double()
    exact.load_state_dict(ff.state_dict())
    assert 0 < (ff(x) - exact(x)).abs().max() < 1e-2
    layer = tl.EncoderLayer(8, 2, 16, activation="gelu_tanh")
    assert layer.ff.activation == "gelu_tanh"


@pytest.mark.parametrize("short, name", [("layer", "layernorm"), ("rms", "rmsnorm")])
def test_both_spellings_of_a_norm_build_the_same_thing(short, name):
    """The layers once said "layer"/"rms" and GPTConfig "layernorm"/"rmsnorm": both work."""
    assert type(tl.EncoderLayer(8, 2, norm=short).attn_residual.norm) is type(
        tl.EncoderLayer(8, 2, norm=name).attn_residual.norm
    )
    config = tl.GPTConfig(
        vocab_size=10, max_len=4, d_model=8, num_heads=2, num_layers=1, norm=short
    )
    assert config.norm == name  # stored in the library's spelling, as a saved config shows it


def test_norm_eps_reaches_every_norm_of_a_stack():
    encoder = tl.Encoder(2, 8, 2, norm_first=True, norm_eps=1e-12)
    norms = [m for m in encoder.modules() if isinstance(m, tl.LayerNorm)]
    assert len(norms) == 5 and all(m.eps == 1e-12 for m in norms)
    rms = tl.Decoder(1, 8, 2, norm="rmsnorm", norm_eps=1e-3)
    assert all(m.eps == 1e-3 for m in rms.modules() if isinstance(m, tl.RMSNorm))


def test_encoder_returns_each_layers_attention_weights():
    torch.manual_seed(0)
    encoder = tl.Encoder(2, 8, 2, norm_first=True).eval()
    x = torch.randn(3, 5, 8)
    out, weights = encoder(x, return_weights=True)
    torch.testing.assert_close(out, encoder(x))
    assert [w.shape for w in weights] == [torch.Size([3, 2, 5, 5])] * 2
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(3, 2, 5))
    # the first layer's weights are those its attention computes on the normalised input
    layer = encoder.layers[0]
    _, expected = layer.self_attn(layer.attn_residual.norm(x), return_weights=True)
    torch.testing.assert_close(weights[0], expected)
