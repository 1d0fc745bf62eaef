"""Masked-language-model corruption (BERT): the inputs and labels of pre-training."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from ..utils._checks import check_ids, is_int, is_number

__all__ = ["IGNORE_INDEX", "mask_tokens"]

#: Target value that ``F.cross_entropy`` skips (its default ``ignore_index``).
IGNORE_INDEX = -100


def mask_tokens(
    input_ids: Tensor,
    *,
    vocab_size: int,
    mask_id: int,
    special_ids: Iterable[int] = (),
    mask_prob: float = 0.15,
    pad_id: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masked-LM corruption: hide some tokens and ask the model for them back.

    Each position that is not special (``special_ids``, ``pad_id`` or ``mask_id``) is chosen
    with probability ``mask_prob``. A chosen token becomes ``mask_id`` with probability 0.8, a
    random non-special token with 0.1, and stays as it is with 0.1 — so the model cannot
    rely on seeing ``[MASK]`` at exactly the positions it is asked about (Devlin et al., 2019).

    Args:
        input_ids: ``(B, T)`` integer ids (not modified).
        vocab_size: the number of ids; random replacements are drawn from it.
        mask_id: the ``[MASK]`` id.
        special_ids: ids never chosen nor drawn, e.g. ``[CLS]`` and ``[SEP]``.
        mask_prob: the chance that an eligible position is chosen.
        pad_id: the padding id, never chosen (``None``: no padding).
        generator: a ``torch.Generator`` for reproducible masks.

    Returns:
        ``(inputs, labels)``, both ``(B, T)``: the corrupted ids, and the original id at each
        chosen position with ``-100`` (``IGNORE_INDEX``) everywhere else.
    """
    if not is_int(vocab_size) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive int, but got {vocab_size!r}")
    check_ids("input_ids", input_ids, vocab_size)
    excluded = {mask_id, *special_ids} | ({pad_id} if pad_id is not None else set())
    for i in excluded:
        if not is_int(i) or not 0 <= i < vocab_size:
            raise ValueError(
                f"mask_id, special_ids and pad_id must be ints in [0, vocab_size={vocab_size}), "
                f"but got {i!r}"
            )
    if not is_number(mask_prob) or not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be a float in [0, 1], but got {mask_prob!r}")

    device = input_ids.device
    # Draw on the generator's device, then move: a CPU generator then works for CUDA inputs.
    rng_device = generator.device if generator is not None else device

    def uniform() -> Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=rng_device).to(device)

    blocked = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    blocked[list(excluded)] = True
    chosen = (uniform() < mask_prob) & ~blocked[input_ids]
    action = uniform()  # one draw per position decides mask (80%) / random (10%) / keep (10%)
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)

    allowed = (~blocked).nonzero().squeeze(1)  # ids a random replacement may take
    if len(allowed) == 0:
        raise ValueError("every id is special: no token is left to draw replacements from")
    pick = torch.randint(len(allowed), input_ids.shape, generator=generator, device=rng_device)
    inputs = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    inputs = torch.where(to_random, allowed[pick.to(device)], inputs)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return inputs, labels
