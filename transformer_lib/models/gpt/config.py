"""The size and options of a :class:`~transformer_lib.GPT`: GPT-2's block by default, Llama's
with five options."""

from __future__ import annotations

from dataclasses import dataclass

from ...modules.feed_forward import ACTIVATIONS
from ...modules.norms import NORMS, norm_name
from ...utils._checks import check_positive_int, is_number

__all__ = ["GPTConfig", "GPT_POSITIONAL", "GPT_NORMS", "GPT_ACTIVATIONS"]


GPT_POSITIONAL = ("learned", "rope")
GPT_NORMS = NORMS
GPT_ACTIVATIONS = (*ACTIVATIONS, "swiglu")


@dataclass
class GPTConfig:
    """The size and options of a :class:`GPT`; GPT-2 small is
    ``GPTConfig(vocab_size=50257, max_len=1024, d_model=768, num_heads=12, num_layers=12)``.

    The defaults give GPT-2's block. Five options turn it into a Llama-style decoder
    (Touvron et al. 2023): ``norm="rmsnorm"``, ``positional="rope"``, ``activation="swiglu"``,
    ``num_kv_heads`` below ``num_heads`` and ``bias=False``. SmolLM2-135M, for example, is
    ``GPTConfig(vocab_size=49152, max_len=8192, d_model=576, num_heads=9, num_kv_heads=3,
    num_layers=30, d_ff=1536, norm="rmsnorm", positional="rope", rope_base=100000.0,
    activation="swiglu", bias=False)``.

    Args:
        vocab_size: number of token ids.
        max_len: the context window: the most positions one forward pass (cache included) sees.
        d_model: width of the residual stream.
        num_heads: query heads per attention layer; must divide ``d_model``.
        num_layers: number of :class:`GPTBlock` s.
        d_ff: hidden size of the feed-forward networks; ``None`` means ``4 * d_model``.
        dropout: on the embeddings, the attention weights and each sublayer's output.
        positional: ``"learned"`` (a trained vector per position, GPT-2) or ``"rope"``
            (rotary embedding inside attention, Su et al. 2021).
        tie_embeddings: the output head reuses the token embedding matrix (GPT-2 does).
        bias: biases in the linear layers and the norms.
        norm_eps: the ``eps`` of the norms.
        activation: of the feed-forward networks: ``"gelu_tanh"`` (GPT-2), ``"gelu"``,
            ``"relu"``, or ``"swiglu"`` for the gated network :class:`SwiGLU` (Llama).
        num_kv_heads: key/value heads (grouped-query attention); ``None`` means ``num_heads``.
        norm: ``"layernorm"`` (GPT-2) or ``"rmsnorm"`` (Llama; it has no bias).
        rope_base: the RoPE frequency base; 10000 in Su et al., larger for long contexts.
        rope_interleaved: RoPE's pairing of features (see :class:`RotaryEmbedding`): ``False``
            as in Hugging Face checkpoints, ``True`` as in GGUF files.
    """

    vocab_size: int
    max_len: int = 256
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    positional: str = "learned"
    tie_embeddings: bool = True
    bias: bool = True
    norm_eps: float = 1e-5
    activation: str = "gelu_tanh"
    num_kv_heads: int | None = None
    norm: str = "layernorm"
    rope_base: float = 10000.0
    rope_interleaved: bool = False

    def __post_init__(self) -> None:
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model if isinstance(self.d_model, int) else None
        for name in ("vocab_size", "max_len", "d_model", "num_heads", "num_layers", "d_ff"):
            check_positive_int(name, getattr(self, name))
        if self.num_kv_heads is not None:
            check_positive_int("num_kv_heads", self.num_kv_heads)
        if self.d_model % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide d_model={self.d_model} "
                "(each head gets d_model / num_heads features)"
            )
        kv = self.num_heads if self.num_kv_heads is None else self.num_kv_heads
        if self.num_heads % kv:
            raise ValueError(f"num_kv_heads={kv} must divide num_heads={self.num_heads}")
        if not is_number(self.dropout):
            raise ValueError(f"dropout must be a number in [0, 1), but got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), but got {self.dropout}")
        if self.positional not in GPT_POSITIONAL:
            raise ValueError(
                f"positional must be one of {GPT_POSITIONAL}, but got {self.positional!r}"
            )
        if self.positional == "rope" and (self.d_model // self.num_heads) % 2:
            raise ValueError(
                f"positional='rope' needs an even head size, but d_model / num_heads = "
                f"{self.d_model} / {self.num_heads} = {self.d_model // self.num_heads}"
            )
        for name in ("tie_embeddings", "bias", "rope_interleaved"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, but got {getattr(self, name)!r}")
        if not is_number(self.norm_eps):
            raise ValueError(f"norm_eps must be a positive number, but got {self.norm_eps!r}")
        if not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive number, but got {self.norm_eps!r}")
        if self.activation not in GPT_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(GPT_ACTIVATIONS)}, but got {self.activation!r}"
            )
        self.norm = norm_name(self.norm)  # "layer" and "rms" become "layernorm" and "rmsnorm"
        if not is_number(self.rope_base):
            raise ValueError(f"rope_base must be a number > 1, but got {self.rope_base!r}")
        if not self.rope_base > 1:
            raise ValueError(f"rope_base must be a number > 1, but got {self.rope_base!r}")
