"""Tests of low-rank adaptation (transformer_lib.modules.lora).

Independent references: the formula ``W x + b + (alpha / r) B A x`` written out by hand, the
unadapted model's output, parameter counts worked out by hand, and a toy regression whose
trained adapter must fold into a plain ``nn.Linear``.
"""

import pytest
import torch
from seeded import randint
from torch import nn

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.modules.lora import LoRALinear, add_lora, lora_parameters, merge_lora

V = 40


def small_gpt(seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(vocab_size=V, max_len=12, d_model=32, num_heads=4, num_layers=2)
    args.update(kwargs)
    return GPT(GPTConfig(**args)).eval()


def test_lora_linear_by_hand():
    torch.manual_seed(0)
    base = nn.Linear(6, 5).double()
    lora = LoRALinear(base, r=2, alpha=6.0)
    with torch.no_grad():
        lora.lora_B.normal_()  # B starts at zero; give the update something to do
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    W, b, A, B = base.weight, base.bias, lora.lora_A, lora.lora_B
    torch.testing.assert_close(lora(x), x @ W.T + b + 3.0 * (x @ A.T @ B.T))
    assert lora.scaling == 3.0 and A.shape == (2, 6) and B.shape == (5, 2)
    assert lora.in_features == 6 and lora.out_features == 5
    assert LoRALinear(nn.Linear(6, 5), r=4).scaling == 1.0  # alpha defaults to r


def test_adapted_model_starts_identical_to_base():
    model = small_gpt()
    idx = randint(V, (2, 9))
    with torch.no_grad():
        before = model(idx)
    add_lora(model, r=4, alpha=8)
    assert isinstance(model.blocks[0].attn.q_proj, LoRALinear)
    assert isinstance(model.blocks[1].attn.v_proj, LoRALinear)
    assert isinstance(model.blocks[0].attn.k_proj, nn.Linear)  # not a target
    with torch.no_grad():
        assert torch.equal(model(idx), before)


def test_only_lora_parameters_train_and_count_by_hand():
    model = small_gpt()
    total = model.num_parameters()
    returned = add_lora(model, r=3, target_modules=("q_proj", "v_proj", "linear1"))
    assert returned is model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(("lora_A", "lora_B")) for n in trainable)
    assert {id(p) for p in lora_parameters(model)} == {
        id(p) for p in model.parameters() if p.requires_grad
    }
    # Per layer r * (in + out): q_proj and v_proj are 32 -> 32, linear1 is 32 -> 128.
    per_block = 3 * (32 + 32) * 2 + 3 * (32 + 128)
    n_lora = sum(p.numel() for p in lora_parameters(model))
    assert n_lora == 2 * per_block
    assert model.num_parameters() == total + n_lora

    # A training step changes the adapters and nothing else.
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.SGD(lora_parameters(model), lr=0.1)
    idx = randint(V, (2, 8))
    for _ in range(2):  # the first step moves only B (A's gradient is B^T ... = 0)
        loss = model(idx).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lora_parameters(model))


def test_trained_adapter_merges_into_a_plain_linear(one_thread):
    torch.manual_seed(0)
    d_in, d_out, r = 8, 6, 2
    base = nn.Linear(d_in, d_out)
    target = nn.Linear(d_in, d_out)  # the function to fit: a rank-r change of the base
    with torch.no_grad():
        target.weight.copy_(base.weight + torch.randn(d_out, r) @ torch.randn(r, d_in) * 0.3)
        target.bias.copy_(base.bias)
    lora = LoRALinear(base, r=r, alpha=4.0)
    opt = torch.optim.Adam(lora_parameters(lora), lr=0.05)
    x = torch.randn(256, d_in)
    with torch.no_grad():
        y = target(x)
        start = (lora(x) - y).pow(2).mean().item()
    for _ in range(200):
        loss = (lora(x) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 * start  # the low-rank update can express the change

    merged = lora.merge()
    assert type(merged) is nn.Linear and not merged.weight.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(merged(x), lora(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(merged.weight, base.weight)


def test_merge_lora_in_a_model_keeps_the_function():
    model = add_lora(small_gpt(), r=2)
    with torch.no_grad():
        for p in lora_parameters(model):
            p.normal_()
    idx = randint(V, (2, 7))
    with torch.no_grad():
        adapted = model(idx)
    assert merge_lora(model) is model
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert type(model.blocks[0].attn.q_proj) is nn.Linear
    with torch.no_grad():
        torch.testing.assert_close(model(idx), adapted, atol=1e-5, rtol=1e-5)


def test_lora_dropout_only_in_training():
    lora = LoRALinear(nn.Linear(8, 8), r=2, dropout=0.5)
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(4, 8)
    lora.eval()
    assert torch.equal(lora(x), lora(x))
    lora.train()
    torch.manual_seed(0)
    assert not torch.allclose(lora(x), lora(x))


@pytest.mark.parametrize("r", [0, -1, 1.5, True])
def test_bad_rank_raises(r):
    model = small_gpt()
    with pytest.raises(ValueError, match="r must be a positive int"):
        LoRALinear(nn.Linear(4, 4), r=r)
    with pytest.raises(ValueError, match="r must be"):
        add_lora(model, r=r)
    # Nothing was replaced or frozen by the failed call.
    assert all(p.requires_grad for p in model.parameters())
    assert type(model.blocks[0].attn.q_proj) is nn.Linear


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(4, 4, 1), r=2)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=0.0)
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(nn.Linear(4, 4), r=2, dropout=1.0)
    with pytest.raises(ValueError, match=r"target_modules.*match no nn.Linear.*q_proj"):
        add_lora(small_gpt(), r=2, target_modules="query")
    with pytest.raises(ValueError, match="target_modules"):
        add_lora(small_gpt(), r=2, target_modules=())


def test_trainable_keeps_a_new_head_trainable():
    config = GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1)
    model = tl.GPTForSequenceClassification(config, num_labels=3)
    add_lora(model, r=2, trainable="classifier")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"classifier.weight", "classifier.bias"} <= trainable
    assert all("lora_" in n or n.startswith("classifier.") for n in trainable)
    # without it, the new head would be frozen at its random initialisation
    frozen = add_lora(tl.GPTForSequenceClassification(config, num_labels=3), r=2)
    assert not frozen.classifier.weight.requires_grad


def test_trainable_that_matches_nothing_is_an_error():
    model = GPT(GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1))
    with pytest.raises(ValueError, match=r"trainable=\('classifier',\) match no module"):
        add_lora(model, r=2, trainable="classifier")


def test_wrapping_twice_says_already_wrapped():
    model = GPT(GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1))
    add_lora(model, r=2)
    with pytest.raises(ValueError, match="already wrapped in LoRALinear.*merge_lora"):
        add_lora(model, r=2)


# --------------------------------------------------------------------------------------------
# Adapter-only save and load
# --------------------------------------------------------------------------------------------

ADAPTED = tl.GPTConfig(
    vocab_size=20, max_len=8, d_model=32, num_heads=4, num_layers=2, tie_embeddings=False
)


def adapted_gpt():
    torch.manual_seed(0)
    model = tl.add_lora(tl.GPT(ADAPTED), r=2, trainable="lm_head")
    with torch.no_grad():  # as if fine-tuned: the factors and the head have moved
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_an_adapter_holds_only_what_fine_tuning_trained_and_loads_into_a_fresh_base(tmp_path):
    model = adapted_gpt()
    tl.save_lora(model, tmp_path / "adapter")
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "adapter" / "adapter.safetensors")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(saved) == trained  # 2 layers x (q, v) x (A, B), and the head's weight
    assert sum(v.numel() for v in saved.values()) < 0.2 * tl.GPT(ADAPTED).num_parameters()

    torch.manual_seed(0)
    fresh = tl.load_lora(tl.GPT(ADAPTED), tmp_path / "adapter").eval()
    idx = randint(20, (2, 8))
    torch.testing.assert_close(fresh(idx), model(idx), rtol=0, atol=0)
    assert {n for n, p in fresh.named_parameters() if p.requires_grad} == trained
    # And it merges like any LoRA model.
    torch.testing.assert_close(tl.merge_lora(fresh)(idx), model(idx), rtol=1e-5, atol=1e-5)


def test_adapter_problems_are_named_before_the_model_changes(tmp_path):
    with pytest.raises(ValueError, match="no LoRALinear layers: call add_lora"):
        tl.save_lora(tl.GPT(ADAPTED), tmp_path / "a")
    tl.save_lora(adapted_gpt(), tmp_path / "a")
    wider = tl.GPT(tl.GPTConfig(**{**vars(ADAPTED), "d_model": 64}))
    with pytest.raises(ValueError, match=r"does not fit this GPT: .* of another shape") as info:
        tl.load_lora(wider, tmp_path / "a")
    assert len(str(info.value)) < 400
    assert not any(isinstance(m, tl.LoRALinear) for m in wider.modules())  # unchanged
    assert all(p.requires_grad for p in wider.parameters())
    with pytest.raises(FileNotFoundError, match="save one with save_lora"):
        tl.load_lora(wider, tmp_path / "missing")
    weights = tmp_path / "a" / "adapter.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is damaged"):
        tl.load_lora(tl.GPT(ADAPTED), tmp_path / "a")
