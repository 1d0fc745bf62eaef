"""Tests of the decoder-only language model (transformer_lib.models.gpt).

Independent references: Hugging Face's ``GPT2LMHeadModel`` with random weights (logits and
greedy generation), the full forward pass for every cached computation, hand-made logits
whose sampling outcome is known, and a small training run that must memorise a sequence.
"""

import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from seeded import randint

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.modules.multi_head_attention import KVCache

POSITIONAL = pytest.mark.parametrize("positional", ["learned", "rope"])
V = 50


def small_gpt(positional="learned", seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(vocab_size=V, max_len=16, d_model=32, num_heads=4, num_layers=2)
    args.update(kwargs)
    model = GPT(GPTConfig(positional=positional, **args)).eval()
    with torch.no_grad():  # GPT-2's init gives near-uniform logits: make the choices sharper
        for p in model.parameters():
            p.mul_(5.0)
    return model


def hf_gpt2(seed=0, **kwargs):
    transformers = pytest.importorskip("transformers")
    args = dict(n_embd=32, n_layer=2, n_head=4, vocab_size=V, n_positions=16, resid_pdrop=0.0,
                embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=None)  # fmt: skip
    args.update(kwargs)
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**args))
    with torch.no_grad():  # random, non-trivial norms and biases too
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.copy_(torch.randn_like(p) * 0.1 + ("weight" in name))
    return hf.eval()


# --------------------------------------------------------------------------------------------
# Hugging Face parity
# --------------------------------------------------------------------------------------------


def test_logits_match_hugging_face_gpt2(tmp_path, one_thread):
    hf = hf_gpt2()
    idx = randint(V, (3, 16), seed=1)
    with torch.no_grad():
        expected = hf(idx).logits
    ours = GPT.from_huggingface(hf)
    assert not ours.training
    assert ours.config.d_model == 32 and ours.config.activation == "gelu_tanh"
    torch.testing.assert_close(ours(idx), expected, atol=1e-4, rtol=1e-4)

    hf.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_dir = GPT.from_huggingface(tmp_path)
        from_str = GPT.from_huggingface(str(tmp_path))
    torch.testing.assert_close(from_dir(idx), expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(from_str(idx), expected, atol=1e-4, rtol=1e-4)


def test_logits_match_hugging_face_untied_and_base_model(one_thread):
    transformers = pytest.importorskip("transformers")
    hf = hf_gpt2(seed=2, tie_word_embeddings=False, n_inner=48, activation_function="relu")
    with torch.no_grad():
        hf.lm_head.weight.normal_()
    idx = randint(V, (2, 9), seed=3)
    ours = GPT.from_huggingface(hf)
    assert not ours.config.tie_embeddings and ours.config.d_ff == 48
    assert ours.lm_head.weight.data_ptr() != ours.tok_embed.weight.data_ptr()
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=1e-4, rtol=1e-4)

    # A GPT2Model (no head): our head is the tied embedding, the hidden states must match.
    base = transformers.GPT2Model(hf.config).eval()
    base.load_state_dict(hf.transformer.state_dict())
    ours = GPT.from_huggingface(base)
    assert ours.config.tie_embeddings
    with torch.no_grad():
        expected = base(idx).last_hidden_state
    torch.testing.assert_close(ours(idx, return_hidden=True), expected, atol=1e-4, rtol=1e-4)


def test_greedy_generation_matches_hugging_face(one_thread):
    hf = hf_gpt2(seed=4)
    with torch.no_grad():
        hf.transformer.wte.weight.mul_(20.0)  # sharp logits: no near-ties to flip the argmax
    prompt = randint(V, (2, 4), seed=5)
    expected = hf.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, do_sample=False,
        pad_token_id=0,
    )  # fmt: skip
    assert expected.shape == (2, 14)
    ours = GPT.from_huggingface(hf)
    assert torch.equal(ours.generate(prompt, 10, temperature=0), expected)
    assert torch.equal(ours.generate(prompt, 10, temperature=0, use_cache=False), expected)


def test_from_huggingface_refuses_other_models(tmp_path):
    transformers = pytest.importorskip("transformers")
    with pytest.raises(ValueError, match="GPT-2"):
        GPT.from_huggingface(torch.nn.Linear(2, 2))
    bert = transformers.BertModel(
        transformers.BertConfig(vocab_size=V, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32)
    )  # fmt: skip
    with pytest.raises(ValueError, match="'bert'"):
        GPT.from_huggingface(bert)
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        GPT.from_huggingface(hf_gpt2(scale_attn_by_inverse_layer_idx=True))
    with pytest.raises(OSError):
        GPT.from_huggingface(tmp_path / "nothing-here")


def test_from_huggingface_path_without_transformers_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(ImportError, match="pip install transformers"):
        GPT.from_huggingface(tmp_path)


# --------------------------------------------------------------------------------------------
# Causality and the KV cache
# --------------------------------------------------------------------------------------------


@POSITIONAL
def test_later_tokens_do_not_change_earlier_logits(positional, one_thread):
    model = small_gpt(positional)
    idx = randint(V, (2, 12), seed=1)
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % V
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-3  # the later positions did see the change


@POSITIONAL
@pytest.mark.parametrize("num_kv_heads", [None, 2])
def test_incremental_forward_with_caches_equals_full_forward(positional, num_kv_heads):
    model = small_gpt(positional, num_kv_heads=num_kv_heads)
    idx = randint(V, (2, 11), seed=2)
    with torch.no_grad():
        full = model(idx)
        caches = model.new_caches()
        parts = [model(idx[:, :5], caches=caches)]  # a prompt, then one token at a time
        parts += [model(idx[:, t : t + 1], caches=caches) for t in range(5, 11)]
    assert all(isinstance(c, KVCache) and len(c) == 11 for c in caches)
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


@POSITIONAL
def test_generate_with_and_without_cache_agree(positional, one_thread):
    model = small_gpt(positional)
    prompt = randint(V, (3, 5), seed=3)
    greedy = model.generate(prompt, 9, temperature=0)
    assert greedy.shape == (3, 14) and greedy.dtype == torch.long
    assert torch.equal(greedy[:, :5], prompt)
    assert torch.equal(greedy, model.generate(prompt, 9, temperature=0, use_cache=False))
    # Past max_len = 16 the window slides; the cached run must fall back, not drift.
    long = model.generate(prompt, 20, temperature=0)
    assert long.shape == (3, 25)
    assert torch.equal(long, model.generate(prompt, 20, temperature=0, use_cache=False))

    def sample(use_cache):
        gen = torch.Generator().manual_seed(7)
        return model.generate(prompt, 20, top_k=10, top_p=0.9, use_cache=use_cache, generator=gen)

    sampled = sample(True)
    assert torch.equal(sampled, sample(False))
    assert not torch.equal(sampled, long)  # sampling did something other than greedy


def test_generate_restores_mode_and_leaves_no_graph():
    model = small_gpt().train()
    out = model.generate(randint(V, (1, 3)), 4)
    assert model.training and not out.requires_grad
    model.eval()
    model.generate(randint(V, (1, 3)), 4)
    assert not model.training


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def test_top_k_1_tiny_top_p_and_zero_temperature_are_greedy():
    model = small_gpt()
    prompt = randint(V, (2, 3), seed=4)
    greedy = model.generate(prompt, 8, temperature=0)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(model.generate(prompt, 8, top_k=1, generator=gen), greedy)
    assert torch.equal(model.generate(prompt, 8, top_p=1e-6, generator=gen), greedy)
    assert torch.equal(model.generate(prompt, 8, temperature=1e-4, generator=gen), greedy)
    assert not torch.equal(model.generate(prompt, 8, temperature=5.0, generator=gen), greedy)


def test_generate_stops_at_eos_and_pads_with_it():
    model = small_gpt()
    prompt = randint(V, (2, 3), seed=4)
    greedy = model.generate(prompt, 8, temperature=0)
    eos = int(greedy[0, 5])  # the third token the first sequence produces
    out = model.generate(prompt, 8, temperature=0, eos_id=eos)
    assert out.shape == greedy.shape
    first = int((greedy[0, 3:] == eos).nonzero()[0]) + 3
    assert torch.equal(out[0, : first + 1], greedy[0, : first + 1])
    assert (out[0, first:] == eos).all()


@pytest.mark.parametrize("use_cache", [True, False])
def test_generate_stream_yields_what_generate_returns(use_cache):
    model = small_gpt()
    prompt = randint(V, (2, 3), seed=5)
    expected = model.generate(prompt, 7, temperature=0, use_cache=use_cache)
    steps = list(model.generate_stream(prompt, 7, temperature=0, use_cache=use_cache))
    assert len(steps) == 7 and all(t.shape == (2,) for t in steps)
    assert torch.equal(torch.stack(steps, dim=1), expected[:, 3:])


def test_generate_stream_stops_at_eos_and_keeps_grad_mode_between_steps():
    model = small_gpt().train()
    prompt = randint(V, (1, 3), seed=4)
    eos = int(model.generate(prompt, 8, temperature=0)[0, 5])
    stream = model.generate_stream(prompt, 8, temperature=0, eos_id=eos)
    seen = []
    for token in stream:
        # Between steps the caller's code runs in its own mode: autograd on, model training.
        assert torch.is_grad_enabled() and model.training
        seen.append(int(token))
    assert seen[-1] == eos and len(seen) < 8


def test_generate_stream_checks_arguments_before_the_first_step():
    model = small_gpt()
    with pytest.raises(ValueError, match="temperature"):
        model.generate_stream(randint(V, (1, 3)), 2, temperature=-1.0)  # no next() needed


def test_generate_bad_arguments():
    model = small_gpt()
    prompt = randint(V, (1, 3))
    for kwargs, name in (
        ({"max_new_tokens": -1}, "max_new_tokens"),
        ({"max_new_tokens": 2.0}, "max_new_tokens"),
        ({"temperature": -0.5}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"eos_id": V}, "eos_id"),
    ):
        args = {"max_new_tokens": 2, **kwargs}
        with pytest.raises(ValueError, match=name):
            model.generate(prompt, args.pop("max_new_tokens"), **args)
    with pytest.raises(TypeError, match="idx"):
        model.generate(prompt.float(), 2)


# --------------------------------------------------------------------------------------------
# Structure, errors, saving
# --------------------------------------------------------------------------------------------


def test_tied_embeddings_share_storage_and_gradients():
    model = small_gpt()
    assert model.lm_head.weight is model.tok_embed.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names  # counted once
    untied = small_gpt(tie_embeddings=False)
    assert untied.lm_head.weight.data_ptr() != untied.tok_embed.weight.data_ptr()
    extra = V * 32
    assert untied.num_parameters() == model.num_parameters() + extra
    assert untied.num_parameters(exclude_embeddings=True) == model.num_parameters(True)
    assert model.num_parameters() - model.num_parameters(True) == V * 32 + 16 * 32


def test_rope_model_has_no_position_table_and_gpt2_init():
    rope = small_gpt("rope")
    assert rope.pos_embed is None and rope.blocks[0].attn.rotary is not None
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, d_model=64, num_heads=4, num_layers=8, max_len=8))
    std = model.blocks[0].attn.q_proj.weight.std().item()
    residual_std = model.blocks[0].attn.out_proj.weight.std().item()
    assert 0.018 < std < 0.022
    assert 0.8 < residual_std / (0.02 / 4) < 1.2  # 0.02 / sqrt(2 * 8 layers)
    assert model.config.d_ff == 256


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"max_len": -1}, "max_len"),
        ({"d_model": 30}, "num_heads"),
        ({"num_heads": 0}, "num_heads"),
        ({"num_layers": 1.5}, "num_layers"),
        ({"d_ff": 0}, "d_ff"),
        ({"dropout": 1.0}, "dropout"),
        ({"positional": "sinusoidal"}, "positional"),
        ({"positional": "rope", "d_model": 36, "num_heads": 4}, "even"),
        ({"num_kv_heads": 3}, "num_kv_heads"),
        ({"activation": "swish"}, "activation"),
        ({"norm_eps": 0.0}, "norm_eps"),
        ({"tie_embeddings": "yes"}, "tie_embeddings"),
    ],
)
def test_config_validation(kwargs, name):
    args = {"vocab_size": V, "d_model": 32, **kwargs}
    with pytest.raises(ValueError, match=name):
        GPTConfig(**args)


def test_bad_idx_raises():
    model = small_gpt()
    with pytest.raises(TypeError, match="idx.*integer"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="idx.*shape"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"idx.*\[0, vocab_size=50\).*50"):
        model(torch.tensor([[1, 2, V]]))
    with pytest.raises(ValueError, match=r"idx.*-1"):
        model(torch.tensor([[1, -1, 2]]))
    with pytest.raises(ValueError, match="idx has T=17.*max_len is 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    caches = model.new_caches()
    model(torch.zeros(1, 10, dtype=torch.long), caches=caches)
    with pytest.raises(ValueError, match="idx has T=7 positions after 10 cached"):
        model(torch.zeros(1, 7, dtype=torch.long), caches=caches)
    with pytest.raises(ValueError, match="caches"):
        model(torch.zeros(1, 2, dtype=torch.long), caches=caches[:1])
    with pytest.raises(TypeError, match="config"):
        GPT({"vocab_size": V})


def test_save_pretrained_round_trip(tmp_path):
    model = small_gpt("rope", tie_embeddings=False, num_kv_heads=2)
    idx = randint(V, (2, 6))
    model.save_pretrained(tmp_path / "gpt")
    loaded = GPT.from_pretrained(tmp_path / "gpt").eval()
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(idx), model(idx))

    tied = small_gpt()
    tied.save_pretrained(tmp_path / "tied")
    loaded = GPT.from_pretrained(tmp_path / "tied").eval()
    assert loaded.lm_head.weight is loaded.tok_embed.weight
    with torch.no_grad():
        assert torch.equal(loaded(idx), tied(idx))


def test_from_pretrained_refuses_another_class(tmp_path):
    other = small_gpt()
    other.save_pretrained(tmp_path / "gpt")
    cfg = tmp_path / "gpt" / "config.json"
    cfg.write_text(cfg.read_text().replace('"class": "GPT"', '"class": "BERT"'))
    with pytest.raises(ValueError, match="BERT model, not a GPT"):
        GPT.from_pretrained(tmp_path / "gpt")
    with pytest.raises(FileNotFoundError):
        GPT.from_pretrained(tmp_path / "missing")


# --------------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------------


def test_one_layer_gpt_memorises_a_sequence(one_thread):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=12, max_len=16, d_model=32, num_heads=2, num_layers=1))
    seq = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    while len(losses) < 100 and (not losses or losses[-1] > 0.05):
        logits = model(seq[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 12), seq[:, 1:].reshape(-1))
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[0] > 2.0  # it started out knowing nothing (chance is ln 12 = 2.48)
    assert losses[-1] < 0.05, f"loss {losses[-1]:.3f} after {len(losses)} steps"
    # Memorised means greedy generation replays the sequence from its first token.
    assert torch.equal(model.generate(seq[:, :1], 15, temperature=0), seq)


# --------------------------------------------------------------------------------------------
# GPTForSequenceClassification
# --------------------------------------------------------------------------------------------


def test_sequence_classifier_matches_hugging_face_last_token(one_thread):
    transformers = pytest.importorskip("transformers")
    from transformer_lib.models.gpt import GPTForSequenceClassification

    hf_lm = hf_gpt2()
    pad = V - 1
    hf = transformers.GPT2ForSequenceClassification(
        transformers.GPT2Config(**{**hf_lm.config.to_dict(), "num_labels": 3, "pad_token_id": pad})
    ).eval()
    hf.transformer.load_state_dict(hf_lm.transformer.state_dict())
    ours = GPTForSequenceClassification.from_decoder(GPT.from_huggingface(hf_lm), 3).eval()
    with torch.no_grad():
        ours.classifier.weight.copy_(hf.score.weight)  # Hugging Face's head has no bias
        ours.classifier.bias.zero_()
    ids = randint(V - 1, (3, 10), seed=2)
    mask = torch.ones_like(ids)
    for row, length in ((1, 6), (2, 3)):  # right padding
        ids[row, length:], mask[row, length:] = pad, 0
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        expected = hf(ids, attention_mask=mask, labels=labels)
        got = ours(ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-4, rtol=1e-4)


def test_sequence_classifier_pools_only_real_tokens(one_thread):
    from transformer_lib.models.gpt import GPTForSequenceClassification

    torch.manual_seed(0)
    for pooling in ("last", "mean"):
        model = GPTForSequenceClassification(GPTConfig(V, 16, 32, 4, 2), 2, pooling=pooling)
        model.eval()
        ids = randint(V, (1, 5), seed=3)
        padded = torch.cat([ids, randint(V, (1, 4), seed=4)], dim=1)
        mask = torch.tensor([[1] * 5 + [0] * 4])
        with torch.no_grad():
            torch.testing.assert_close(
                model(padded, attention_mask=mask).logits, model(ids).logits, atol=1e-5, rtol=0
            )


def test_sequence_classifier_from_decoder_copies_and_trains():
    from transformer_lib.models.gpt import GPTForSequenceClassification

    gpt = small_gpt()
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    model = GPTForSequenceClassification.from_decoder(gpt, 2, pooling="mean")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ids, labels = randint(V, (4, 8), seed=5), torch.tensor([0, 1, 0, 1])
    model(ids, labels=labels).loss.backward()
    opt.step()
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(model.gpt.blocks[0].attn.q_proj.weight, gpt.blocks[0].attn.q_proj.weight)
    shared = GPTForSequenceClassification.from_decoder(gpt, 2, copy_decoder=False)
    assert shared.gpt is gpt


def test_sequence_classifier_bad_input():
    from transformer_lib.models.gpt import GPTForSequenceClassification

    config = GPTConfig(V, 16, 32, 4, 2)
    with pytest.raises(TypeError, match="config"):
        GPTForSequenceClassification(dict(vocab_size=V), 2)
    with pytest.raises(ValueError, match="num_labels"):
        GPTForSequenceClassification(config, 1)
    with pytest.raises(ValueError, match="pooling"):
        GPTForSequenceClassification(config, 2, pooling="first")
    with pytest.raises(TypeError, match="gpt"):
        GPTForSequenceClassification.from_decoder(torch.nn.Linear(2, 2), 2)
    model = GPTForSequenceClassification(config, 2)
    ids = randint(V, (2, 6))
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        model(ids, attention_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="without real tokens"):
        model(ids, attention_mask=torch.tensor([[1] * 6, [0] * 6]))
    with pytest.raises(ValueError, match="right-padded"):
        model(ids, attention_mask=torch.tensor([[1] * 6, [0, 0, 1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="labels"):
        model(ids, labels=torch.tensor([0, 2]))


def test_targets_give_the_mean_cross_entropy_and_skip_ignored_positions():
    """nanoGPT's habit: ``logits, loss = model(x, y)``."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1))
    x = torch.randint(0, 11, (3, 8))
    y = torch.randint(0, 11, (3, 8))
    y[0, :5] = tl.IGNORE_INDEX
    logits, loss = model(x, y)
    torch.testing.assert_close(logits, model(x))
    kept = y != tl.IGNORE_INDEX
    expected = F.cross_entropy(logits[kept], y[kept])
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert model.tok_embed.weight.grad is not None


@pytest.mark.parametrize(
    "targets, error, message",
    [
        (torch.zeros(3, 7, dtype=torch.long), ValueError, r"labels must have shape \(B, T\)"),
        (torch.full((3, 8), 11), ValueError, r"labels must be -100 or lie in \[0, 11\)"),
        (torch.zeros(3, 8), TypeError, "labels must hold integer class ids"),
        ([1, 2], TypeError, "labels must be a tensor"),
    ],
)
def test_bad_targets_are_named(targets, error, message):
    model = GPT(GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1))
    with pytest.raises(error, match=message):
        model(torch.zeros(3, 8, dtype=torch.long), targets)


def test_from_pretrained_returns_evaluation_mode(tmp_path):
    model = GPT(GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1))
    model.train().save_pretrained(tmp_path / "m")
    loaded = GPT.from_pretrained(tmp_path / "m")
    assert not loaded.training
    assert not any(m.training for m in loaded.modules())
