"""The one RNG serialiser: captured states restore every stream, through JSON as well."""

import json
import random

import numpy as np
import pytest
import torch

from transformer_lib.utils._rng import (
    capture_rng_state,
    check_rng_state,
    rng_state_from_json,
    rng_state_to_json,
    set_rng_state,
)


def draws():
    return torch.rand(3).tolist(), random.random(), float(np.random.rand())


@pytest.mark.parametrize("through_json", [False, True])
def test_a_captured_state_repeats_every_stream(through_json):
    state = capture_rng_state()
    if through_json:
        state = rng_state_from_json(json.loads(json.dumps(rng_state_to_json(state))))
    first = draws()
    set_rng_state(state)
    assert draws() == first


def test_malformed_states_are_refused_before_anything_is_set():
    torch_before = torch.get_rng_state()
    with pytest.raises(ValueError, match="not a stored random number generator state"):
        rng_state_from_json({"torch": "abc"})
    with pytest.raises(ValueError, match="the Python random state is malformed"):
        set_rng_state({"torch": torch_before, "python": (3, "x", None)})
    assert torch.equal(torch.get_rng_state(), torch_before)
    # Checkpoints written before this module kept the CUDA states as a list.
    check_rng_state({**capture_rng_state(), "cuda": [torch.zeros(4, dtype=torch.uint8)]})
