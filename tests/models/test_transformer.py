"""Tests of the decoder and the encoder-decoder Transformer
(transformer_lib.modules.decoder.DecoderLayer / Decoder, transformer_lib.models.transformer).

Independent references: ``nn.TransformerDecoderLayer`` with our weights copied into it, the
full (uncached) forward pass for every cached computation, and a small training run that must
learn to copy. Decoding is tested in tests/generation/test_decoding.py.
"""

import pytest
import torch
import torch.nn.functional as F
from seeded import randint, randn, randomize_
from seeded import small_transformer as small_model
from torch import nn

import transformer_lib as tl
from transformer_lib.generation.decoding import beam_search, greedy_decode
from transformer_lib.models.transformer import Transformer
from transformer_lib.modules.decoder import Decoder, DecoderLayer
from transformer_lib.modules.multi_head_attention import KVCache

POSITIONAL = pytest.mark.parametrize("positional", [None, "sinusoidal", "learned", "rope", "alibi"])
PAD, BOS, EOS = 0, 1, 2


# --------------------------------------------------------------------------------------------
# DecoderLayer and Decoder
# --------------------------------------------------------------------------------------------


def copy_attention(ours, theirs):
    with torch.no_grad():
        theirs.in_proj_weight.copy_(
            torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        )
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        theirs.out_proj.load_state_dict(ours.out_proj.state_dict())


def torch_decoder_layer(ours, d, heads, d_ff, norm_first):
    ref = nn.TransformerDecoderLayer(
        d, heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first
    ).to(ours.ff.linear1.weight.dtype)
    copy_attention(ours.self_attn, ref.self_attn)
    copy_attention(ours.cross_attn, ref.multihead_attn)
    assert ref.self_attn.in_proj_weight.shape == (3 * d, d)
    for name in ("linear1", "linear2"):
        getattr(ref, name).load_state_dict(getattr(ours.ff, name).state_dict())
    ref.norm1.load_state_dict(ours.self_attn_residual.norm.state_dict())
    ref.norm2.load_state_dict(ours.cross_attn_residual.norm.state_dict())
    ref.norm3.load_state_dict(ours.ff_residual.norm.state_dict())
    return ref.eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("tgt_padding", [False, True], ids=["no-tgt-pad", "tgt-pad"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
def test_decoder_layer_matches_torch(norm_first, tgt_padding, dtype):
    d, heads, d_ff, B, T, S = 16, 4, 40, 3, 6, 7
    torch.manual_seed(0)
    ours = randomize_(DecoderLayer(d, heads, d_ff, norm_first=norm_first)).to(dtype).eval()
    assert ours.norm_first is norm_first
    ref = torch_decoder_layer(ours, d, heads, d_ff, norm_first)
    x, memory = randn(B, T, d, seed=1, dtype=dtype), randn(B, S, d, seed=2, dtype=dtype)
    src_pad = tl.padding_mask(torch.tensor([S, S - 3, 2]), S)
    tgt_pad = tl.padding_mask(torch.tensor([T, T - 2, 3]), T) if tgt_padding else None
    out = ours(x, memory, tgt_mask=tgt_pad, memory_mask=src_pad, is_causal=True)
    expected = ref(
        x, memory, tgt_mask=~tl.causal_mask(T), memory_key_padding_mask=~src_pad[:, 0, 0],
        tgt_key_padding_mask=None if tgt_pad is None else ~tgt_pad[:, 0, 0],
    )  # fmt: skip
    tol = dict(atol=2e-5, rtol=1e-4) if dtype == torch.float32 else {}
    if tgt_padding:  # padded query rows are garbage either way; compare the real ones
        real = tgt_pad[:, 0, 0]
        out, expected = out[real], expected[real]
    torch.testing.assert_close(out, expected, **tol)


def test_decoder_layer_cross_weights():
    d, heads, B, T, S = 16, 4, 2, 5, 6
    torch.manual_seed(0)
    layer = DecoderLayer(d, heads).eval()
    x, memory = randn(B, T, d, seed=1), randn(B, S, d, seed=2)
    src_pad = tl.padding_mask(torch.tensor([S, 3]), S)
    out, weights = layer(x, memory, memory_mask=src_pad, return_cross_weights=True)
    assert weights.shape == (B, heads, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, heads, T))
    assert (weights[1, :, :, 3:] == 0).all()  # padded source positions get no attention
    torch.testing.assert_close(out, layer(x, memory, memory_mask=src_pad))


def test_decoder_layer_is_causal_by_default():
    torch.manual_seed(0)
    layer = DecoderLayer(8, 2).eval()
    x, memory = randn(1, 5, 8, seed=1), randn(1, 4, 8, seed=2)
    changed = x.clone()
    changed[:, 3] += 1.0
    torch.testing.assert_close(layer(x, memory)[:, :3], layer(changed, memory)[:, :3])
    assert not torch.allclose(layer(x, memory)[:, 3:], layer(changed, memory)[:, 3:])


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-ln", "pre-ln"])
@POSITIONAL
def test_decoder_with_caches_equals_full_forward(positional, norm_first):
    d, heads, B, T, S = 16, 4, 2, 7, 5
    torch.manual_seed(0)
    dec = Decoder(2, d, heads, 32, positional=positional, norm_first=norm_first, max_len=16)
    dec = randomize_(dec, std=0.2).eval()
    x, memory = randn(B, T, d, seed=1), randn(B, S, d, seed=2)
    src_pad = tl.padding_mask(torch.tensor([S, 2]), S)
    full, full_weights = dec(x, memory, memory_mask=src_pad, return_cross_weights=True)
    caches = dec.new_caches()
    steps, step_weights = [], []
    for t in range(T):
        out, w = dec(
            x[:, t : t + 1], memory, memory_mask=src_pad, caches=caches, return_cross_weights=True
        )
        steps.append(out)
        step_weights.append(w[-1])
    assert [len(c) for c in caches] == [T, T]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(torch.cat(step_weights, 2), full_weights[-1], atol=2e-5, rtol=1e-4)
    # Two tokens, then the rest at once: chunks of any size work too.
    caches = dec.new_caches()
    chunks = [dec(x[:, :2], memory, memory_mask=src_pad, caches=caches)]
    chunks.append(dec(x[:, 2:], memory, memory_mask=src_pad, caches=caches))
    torch.testing.assert_close(torch.cat(chunks, 1), full, atol=2e-5, rtol=1e-4)


def test_decoder_bad_arguments_raise():
    dec = Decoder(2, 8, 2)
    x, memory = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    with pytest.raises(ValueError, match="one KVCache per layer"):
        dec(x, memory, caches=[KVCache()])
    with pytest.raises(ValueError, match="memory must have shape"):
        dec(x, torch.randn(1, 4, 6))
    with pytest.raises(TypeError, match="memory must be a tensor"):
        dec(x, [1.0])
    with pytest.raises(ValueError, match="positional"):
        Decoder(2, 8, 2, positional="bogus")
    with pytest.raises(ValueError, match="num_layers"):
        Decoder(0, 8, 2)
    with pytest.raises(ValueError, match="max_len"):
        Decoder(1, 8, 2, positional="learned", max_len=2)(x, memory)


# --------------------------------------------------------------------------------------------
# Transformer
# --------------------------------------------------------------------------------------------


def test_transformer_paper_defaults_and_shapes():
    model = Transformer(100, 120)
    assert len(model.encoder.layers) == len(model.decoder.layers) == 6
    layer = model.decoder.layers[0]
    assert layer.self_attn.num_heads == 8 and layer.ff.linear1.out_features == 2048
    assert (
        model.d_model == 512 and not layer.norm_first and model.decoder.positional == "sinusoidal"
    )
    assert layer.ff.dropout.p == 0.1 and model.generator.out_features == 120
    small = small_model()
    src, tgt = randint(11, (3, 7), seed=1, low=3), randint(13, (3, 5), seed=2, low=3)
    assert small(src, tgt).shape == (3, 5, 13)
    memory, src_mask = small.encode(src)
    assert memory.shape == (3, 7, 16) and src_mask.shape == (3, 1, 1, 7)
    logits, weights = small.decode(tgt, memory, src_mask, return_cross_weights=True)
    torch.testing.assert_close(logits, small(src, tgt))
    assert len(weights) == 2 and weights[0].shape == (3, 2, 5, 7)


def test_transformer_scales_embeddings_by_sqrt_d_model():
    model = small_model(positional=None, num_layers=1)
    src = randint(11, (1, 4), low=1)
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    model.encode(src)
    torch.testing.assert_close(seen["x"], model.src_embed(src) * 4.0)


@POSITIONAL
def test_transformer_cannot_see_the_future(positional):
    model = small_model(positional)
    src, tgt = randint(11, (2, 6), seed=1, low=3), randint(13, (2, 8), seed=2, low=3)
    logits = model(src, tgt)
    for t in (1, 4, 7):
        changed = tgt.clone()
        changed[:, t] = (changed[:, t] - 3 + 1) % 10 + 3  # another non-pad token
        new = model(src, changed)
        torch.testing.assert_close(new[:, :t], logits[:, :t])
        assert not torch.allclose(new[:, t:], logits[:, t:])


@POSITIONAL
def test_source_padding_does_not_change_outputs(positional):
    model = small_model(positional)
    src, tgt = randint(11, (2, 6), seed=1, low=3), randint(13, (2, 5), seed=2, low=3)
    padded = torch.cat([src, torch.full((2, 4), PAD)], dim=1)
    torch.testing.assert_close(model(padded, tgt), model(src, tgt), atol=1e-5, rtol=1e-5)


def test_target_padding_does_not_change_real_positions():
    model = small_model()
    src, tgt = randint(11, (2, 6), seed=1, low=3), randint(13, (2, 5), seed=2, low=3)
    padded = torch.cat([tgt, torch.full((2, 3), PAD)], dim=1)
    out = model(src, padded)
    torch.testing.assert_close(out[:, :5], model(src, tgt), atol=1e-5, rtol=1e-5)
    assert torch.isfinite(out).all()


def test_decode_with_caches_equals_forward():
    model = small_model()
    src, tgt = randint(11, (2, 6), seed=1, low=3), randint(13, (2, 5), seed=2, low=3)
    memory, src_mask = model.encode(src)
    caches = model.new_caches()
    steps = [model.decode(tgt[:, t : t + 1], memory, src_mask, caches=caches) for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, 1), model(src, tgt), atol=1e-5, rtol=1e-5)


def test_tie_embeddings_shares_the_parameter():
    tied, untied = small_model(tie_embeddings=True), small_model(tie_embeddings=False)
    assert tied.generator.weight is tied.tgt_embed.weight
    assert untied.generator.weight is not untied.tgt_embed.weight
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == 13 * 16
    src, tgt = randint(11, (2, 4), seed=1, low=3), randint(13, (2, 3), seed=2, low=3)
    tied(src, tgt).sum().backward()
    assert tied.tgt_embed.weight.grad is not None


def test_share_embeddings_with_tie_is_the_papers_three_way_sharing():
    # Vaswani et al. (2017), section 3.4: one matrix for both embeddings and the generator.
    def model(**kwargs):
        return Transformer(13, 13, d_model=16, num_heads=2, num_layers=1, d_ff=32, **kwargs)

    plain, shared = model(), model(share_embeddings=True)
    paper = model(share_embeddings=True, tie_embeddings=True)
    assert shared.tgt_embed.weight is shared.src_embed.weight
    assert shared.generator.weight is not shared.src_embed.weight
    assert paper.generator.weight is paper.tgt_embed.weight is paper.src_embed.weight

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(plain) - count(shared) == 13 * 16
    assert count(plain) - count(paper) == 2 * 13 * 16
    # Gradients reach the one matrix from all three uses.
    src, tgt = randint(13, (2, 4), seed=1, low=3), randint(13, (2, 3), seed=2, low=3)
    paper(src, tgt).sum().backward()
    grad = paper.src_embed.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert grad.abs().sum(1)[:3].sum() > 0  # rows never looked up get gradient via the generator
    # A state_dict round trip keeps the values and the sharing.
    paper.eval()
    copy = model(share_embeddings=True, tie_embeddings=True).eval()
    copy.load_state_dict(paper.state_dict())
    assert copy.generator.weight is copy.src_embed.weight
    torch.testing.assert_close(copy(src, tgt), paper(src, tgt))


def test_share_embeddings_needs_one_vocabulary():
    with pytest.raises(ValueError, match="src_vocab_size is 11 and tgt_vocab_size is 13"):
        Transformer(11, 13, d_model=16, num_heads=2, num_layers=1, share_embeddings=True)
    with pytest.raises(TypeError, match="share_embeddings must be a bool"):
        Transformer(13, 13, d_model=16, num_heads=2, num_layers=1, share_embeddings="yes")


def test_transformer_trains_in_training_mode_and_is_deterministic_in_eval():
    model = small_model(dropout=0.5).train()
    src, tgt = randint(11, (2, 6), seed=1, low=3), randint(13, (2, 5), seed=2, low=3)
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    torch.testing.assert_close(model(src, tgt), model(src, tgt))


def bad_calls():
    src, tgt = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 3]])
    return [
        ("src-negative", lambda m: m(torch.tensor([[3, -1]]), tgt), ValueError, r"src.*\[0, 11\)"),
        ("src-too-big", lambda m: m(torch.tensor([[3, 11]]), tgt), ValueError, r"src.*\[0, 11\)"),
        ("tgt-too-big", lambda m: m(src, torch.tensor([[1, 13]])), ValueError, r"tgt.*\[0, 13\)"),
        ("src-float", lambda m: m(src.float(), tgt), TypeError, "src must hold integer"),
        ("tgt-bool", lambda m: m(src, tgt.bool()), TypeError, "tgt must hold integer"),
        ("src-list", lambda m: m([[3, 4]], tgt), TypeError, "src must be a tensor"),
        ("src-1d", lambda m: m(src[0], tgt), ValueError, r"src must have shape \(B, T\)"),
        ("tgt-3d", lambda m: m(src, tgt[None]), ValueError, r"tgt must have shape \(B, T\)"),
        ("src-empty", lambda m: m(src[:, :0], tgt), ValueError, "src must hold at least one"),
        ("src-long", lambda m: m(torch.full((1, 21), 3), tgt), ValueError, "src.*max_len is 20"),
        ("tgt-long", lambda m: m(src, torch.full((1, 21), 3)), ValueError, "tgt.*max_len is 20"),
        ("batch", lambda m: m(src.repeat(2, 1), tgt), ValueError, "src has batch size 2.*tgt"),
        (
            "decode-batch",
            lambda m: m.decode(tgt.repeat(2, 1), *m.encode(src)),
            ValueError,
            "tgt has batch size 2.*memory",
        ),
    ]


@pytest.mark.parametrize("positional", ["sinusoidal", "rope"])
@pytest.mark.parametrize(
    "call, error, pattern",
    [case[1:] for case in bad_calls()],
    ids=[case[0] for case in bad_calls()],
)
def test_transformer_bad_input_raises(call, error, pattern, positional):
    with pytest.raises(error, match=pattern):
        call(small_model(positional))


def test_decode_past_max_len_with_caches_raises():
    model = small_model(max_len=4)
    memory, src_mask = model.encode(torch.tensor([[3, 4]]))
    caches = model.new_caches()
    model.decode(torch.tensor([[1, 3, 4]]), memory, src_mask, caches=caches)
    with pytest.raises(ValueError, match="tgt reaches position 5, but max_len is 4"):
        model.decode(torch.tensor([[3, 4]]), memory, src_mask, caches=caches)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(src_vocab_size=0), "src_vocab_size"),
        (dict(tgt_vocab_size=2.5), "tgt_vocab_size"),
        (dict(pad_id=11), "pad_id"),
        (dict(pad_id=-1), "pad_id"),
        (dict(positional="bogus"), "positional"),
        (dict(max_len=0), "max_len"),
    ],
)
def test_transformer_bad_arguments_raise(kwargs, pattern):
    args = dict(src_vocab_size=11, tgt_vocab_size=13, d_model=16, num_heads=2, num_layers=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        Transformer(args.pop("src_vocab_size"), args.pop("tgt_vocab_size"), **args)


# --------------------------------------------------------------------------------------------
# Learning: a tiny Transformer learns to copy
# --------------------------------------------------------------------------------------------


def copy_batch(n, generator, vocab=13, shortest=2, longest=6):
    """Source: 2..6 digits (ids 3..12), EOS, padding. Target: BOS + the source."""
    lengths = torch.randint(shortest, longest + 1, (n,), generator=generator)
    digits = torch.randint(3, vocab, (n, longest), generator=generator)
    src = torch.where(torch.arange(longest) < lengths[:, None], digits, PAD)
    src = torch.cat([src, torch.full((n, 1), PAD)], dim=1)
    src[torch.arange(n), lengths] = EOS
    return src, torch.cat([torch.full((n, 1), BOS), src], dim=1)


@pytest.mark.slow
def test_tiny_transformer_learns_to_copy(one_thread):
    vocab = 13
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = Transformer(
        vocab, vocab, d_model=32, num_heads=4, num_layers=2, d_ff=64, dropout=0.0, max_len=16
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    sched = tl.warmup_schedule(opt, 30)
    for _ in range(400):
        src, tgt = copy_batch(64, g)
        logits = model(src, tgt[:, :-1])  # teacher forcing: predict tgt[t + 1] from tgt[:t + 1]
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    src, tgt = copy_batch(200, torch.Generator().manual_seed(5))
    for decode in (greedy_decode, beam_search):
        out = decode(model, src, bos_id=BOS, eos_id=EOS, max_len=tgt.shape[1])
        width = out.shape[1]
        assert width <= tgt.shape[1]
        exact = (out == tgt[:, :width]).all(dim=1) & (tgt[:, width:] == PAD).all(dim=1)
        assert exact.float().mean() > 0.9, (decode.__name__, exact.float().mean())


def test_all_padding_source_gives_finite_logits():
    """A source row that is nothing but padding leaves cross-attention nothing to read: zero
    output, never NaN (the library's masking convention)."""
    model = small_model()
    src = torch.tensor([[3, 4, 5], [PAD, PAD, PAD]])
    logits = model(src, torch.tensor([[BOS, 3], [BOS, 4]]))
    assert torch.isfinite(logits).all()


def test_a_config_and_keyword_arguments_build_the_same_model(tmp_path):
    kwargs = dict(d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=12, dropout=0.0)
    torch.manual_seed(0)
    by_kwargs = tl.Transformer(11, 13, **kwargs)
    torch.manual_seed(0)
    by_config = tl.Transformer(tl.TransformerConfig(11, 13, **kwargs))
    assert by_kwargs.config == by_config.config
    theirs = by_config.state_dict()
    for name, value in by_kwargs.state_dict().items():
        assert torch.equal(value, theirs[name]), name
    # The config makes the model savable with save_pretrained, like GPT and BERT.
    by_config.save_pretrained(tmp_path / "t")
    loaded = tl.Transformer.from_pretrained(tmp_path / "t")
    src, tgt = torch.randint(11, (2, 5)), torch.randint(13, (2, 4))
    torch.testing.assert_close(loaded(src, tgt), by_config.eval()(src, tgt))
    with pytest.raises(TypeError, match="either a TransformerConfig or the sizes"):
        tl.Transformer(tl.TransformerConfig(11, 13), d_model=8)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['width'\]"):
        tl.Transformer(11, 13, width=8)
