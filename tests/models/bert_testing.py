"""Inputs shared by the BERT test files (test_bert.py, test_question_answering.py)."""

import torch


def padded_batch(vocab_size: int, seed: int = 0):
    """Ids ``(3, 10)`` with a different amount of padding per row, mask and two segments."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab_size, (3, 10), generator=g)
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    return ids, mask, types
