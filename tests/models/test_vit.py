"""Tests of the Vision Transformer (transformer_lib.models.vit).

Independent references: Hugging Face's ``ViTForImageClassification`` built from a small random
config (no download), whose weights are copied into ours; ``torch.nn.Conv2d`` against the
reshape-and-linear view of the patch embedding; a hand-written loop over patches.
"""

import pytest
import torch

from transformer_lib.models.vit import (
    PatchEmbedding,
    ViT,
    ViTConfig,
    ViTForImageClassification,
    patchify,
)

transformers = pytest.importorskip("transformers")


def small_config(**kwargs):
    args = dict(image_size=8, patch_size=2, num_channels=1, d_model=16, num_heads=4)
    args.update(num_layers=2, d_ff=32, num_labels=10)
    args.update(kwargs)
    return ViTConfig(**args)


def images(B=3, C=1, H=8, W=8, seed=0):
    return torch.randn(B, C, H, W, generator=torch.Generator().manual_seed(seed))


def hf_model(config, seed=0):
    """A random Hugging Face ViT of the same size, in eval mode, eager attention."""
    hf_config = transformers.ViTConfig(
        image_size=config.image_size,
        patch_size=config.patch_size,
        num_channels=config.num_channels,
        hidden_size=config.d_model,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.d_ff,
        num_labels=config.num_labels,
        hidden_act="gelu",
        layer_norm_eps=config.norm_eps,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    hf_config._attn_implementation = "eager"  # the path that returns attention weights
    torch.manual_seed(seed)
    hf = transformers.ViTForImageClassification(hf_config).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # random values everywhere, so a wrong mapping cannot pass
        for p in hf.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return hf


def copy_from_hf(hf, config):
    """Our model with the weights of ``hf``: the mapping between the two layouts."""
    ours = ViTForImageClassification(config).eval()
    sd = hf.state_dict()

    def get(name):
        if name in sd:
            return sd[name]
        raise KeyError(f"{name} not in the Hugging Face state dict: {sorted(sd)[:8]}...")

    patches = "vit.embeddings.patch_embeddings.projection"
    mapping = {
        "vit.cls_token": "vit.embeddings.cls_token",
        "vit.position_embeddings": "vit.embeddings.position_embeddings",
        "vit.patch_embedding.projection.weight": f"{patches}.weight",
        "vit.patch_embedding.projection.bias": f"{patches}.bias",
        "vit.encoder.final_norm.weight": "vit.layernorm.weight",
        "vit.encoder.final_norm.bias": "vit.layernorm.bias",
        "classifier.weight": "classifier.weight",
        "classifier.bias": "classifier.bias",
    }
    for i in range(config.num_layers):
        ours_prefix, theirs = f"vit.encoder.layers.{i}.", f"vit.layers.{i}."
        for mine, hf_name in (
            ("self_attn.q_proj", "attention.q_proj"),
            ("self_attn.k_proj", "attention.k_proj"),
            ("self_attn.v_proj", "attention.v_proj"),
            ("self_attn.out_proj", "attention.o_proj"),
            ("attn_residual.norm", "layernorm_before"),
            ("ff_residual.norm", "layernorm_after"),
            ("ff.linear1", "mlp.fc1"),
            ("ff.linear2", "mlp.fc2"),
        ):
            for kind in ("weight", "bias"):
                mapping[f"{ours_prefix}{mine}.{kind}"] = f"{theirs}{hf_name}.{kind}"
    state = {mine: get(theirs) for mine, theirs in mapping.items()}
    ours.load_state_dict(state, strict=True)  # every parameter of ours is mapped
    assert len(state) == len(sd), "every Hugging Face parameter is used"
    return ours


@pytest.mark.parametrize("patch_size", [2, 4])
def test_logits_and_attentions_match_hugging_face(patch_size):
    config = small_config(patch_size=patch_size)
    hf = hf_model(config)
    ours = copy_from_hf(hf, config)
    x = images()
    with torch.no_grad():
        expected = hf(pixel_values=x, output_attentions=True)
        logits, attentions = ours(x, return_attentions=True)
        plain = ours(x)
    torch.testing.assert_close(logits, expected.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain, expected.logits, atol=1e-5, rtol=1e-5)
    assert len(attentions) == len(expected.attentions) == config.num_layers
    for mine, theirs in zip(attentions, expected.attentions, strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)


def test_hidden_states_match_hugging_face_vit_model():
    config = small_config()
    hf = hf_model(config)
    ours = copy_from_hf(hf, config)
    x = images(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(
            ours.vit(x), hf.vit(pixel_values=x).last_hidden_state, atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("C, P", [(1, 2), (3, 4), (2, 1)])
def test_patch_embedding_is_patchify_then_linear(C, P):
    torch.manual_seed(0)
    embed = PatchEmbedding(P, C, 12)
    x = images(B=2, C=C, H=8, W=12)
    torch.testing.assert_close(embed(x), embed.as_linear()(patchify(x, P)))


def test_patchify_matches_a_loop_over_patches():
    x = images(B=2, C=3, H=4, W=6)
    P = 2
    loop = torch.stack(
        [
            x[:, :, r : r + P, c : c + P].reshape(2, -1)
            for r in range(0, 4, P)
            for c in range(0, 6, P)
        ],
        dim=1,
    )
    torch.testing.assert_close(patchify(x, P), loop)
    assert patchify(x, P).shape == (2, 6, 3 * P * P)


def test_shapes_and_attention_rows_sum_to_one():
    config = small_config(patch_size=4, num_heads=2)
    model = ViTForImageClassification(config).eval()
    logits, attentions = model(images(B=5), return_attentions=True)
    assert logits.shape == (5, 10)
    assert config.num_patches == 4
    assert model.vit(images(B=5)).shape == (5, 5, 16)
    for w in attentions:
        assert w.shape == (5, 2, 5, 5)
        torch.testing.assert_close(w.sum(-1), torch.ones(5, 2, 5))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = ViTForImageClassification(small_config(dropout=0.1))
    loss = torch.nn.functional.cross_entropy(model(images(B=4)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_position_embeddings_make_the_model_see_where_patches_are():
    # Without positions a ViT is blind to the order of patches; with (random) positions,
    # swapping two patches changes the [CLS] output.
    torch.manual_seed(0)
    model = ViT(small_config(patch_size=4)).eval()
    x = images(B=1)
    swapped = x.clone()
    swapped[..., :4, :4], swapped[..., :4, 4:] = x[..., :4, 4:], x[..., :4, :4]
    with torch.no_grad():
        assert not torch.allclose(model(x)[:, 0], model(swapped)[:, 0], atol=1e-4)
        model.position_embeddings.zero_()
        torch.testing.assert_close(model(x)[:, 0], model(swapped)[:, 0], atol=1e-5, rtol=1e-5)


def test_norm_eps_reaches_every_layer_norm():
    model = ViT(small_config(norm_eps=1e-3))
    eps = {m.eps for m in model.modules() if hasattr(m, "eps")}
    assert eps == {1e-3}


def test_bad_images_raise_clear_errors():
    model = ViTForImageClassification(small_config())
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*3 dimensions"):
        model(torch.randn(1, 8, 8))
    with pytest.raises(ValueError, match="num_channels=1.*but have 3"):
        model(torch.randn(2, 3, 8, 8))
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="images must be a tensor.*list"):
        model([[0.0]])
    with pytest.raises(ValueError, match="must be 8x8.*but are 12x12"):
        model(torch.randn(2, 1, 12, 12))
    with pytest.raises(ValueError, match="multiples of patch_size=2.*7x8"):
        PatchEmbedding(2, 1, 16)(torch.randn(1, 1, 7, 8))
    with pytest.raises(ValueError, match="multiples of patch_size=4.*8x6"):
        patchify(torch.randn(1, 1, 8, 6), 4)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="image_size=8 must be a multiple of patch_size=3"):
        small_config(patch_size=3)
    with pytest.raises(ValueError, match="num_heads=3 must divide d_model=16"):
        small_config(num_heads=3)
    with pytest.raises(ValueError, match="num_channels must be a positive int.*0"):
        small_config(num_channels=0)
    with pytest.raises(ValueError, match="dropout must be a float in"):
        small_config(dropout=1.5)
    with pytest.raises(ValueError, match="patch_size must be a positive int"):
        PatchEmbedding(0, 1, 16)
    with pytest.raises(TypeError, match="config must be a ViTConfig"):
        ViT({"image_size": 8})
