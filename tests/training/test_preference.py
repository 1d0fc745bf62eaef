"""sequence_logprob and dpo_loss (transformer_lib.training.preference), against their
definitions (Rafailov et al. 2023, eq. 7), with the reference frozen, and as properties."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer_lib as tl


def test_sequence_logprob_is_minus_the_summed_cross_entropy_of_each_row():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7)
    targets = torch.randint(7, (3, 5))
    targets[0, :2] = tl.IGNORE_INDEX
    targets[2] = tl.IGNORE_INDEX  # nothing to score: log-probability 0
    expected = torch.stack(
        [
            -F.cross_entropy(logits[b], targets[b], ignore_index=tl.IGNORE_INDEX, reduction="sum")
            for b in range(3)
        ]
    )
    torch.testing.assert_close(tl.sequence_logprob(logits, targets), expected)
    assert tl.sequence_logprob(logits, targets)[2] == 0
    # Half-precision logits are scored in float32.
    half = tl.sequence_logprob(logits.bfloat16(), targets)
    assert half.dtype == torch.float32


def test_dpo_loss_is_the_papers_formula_and_rewards_are_detached():
    pc, pr = (
        torch.tensor([-3.0, -5.0], requires_grad=True),
        torch.tensor([-4.0, -2.0], requires_grad=True),
    )
    rc, rr = torch.tensor([-3.5, -4.0]), torch.tensor([-3.0, -2.5])
    out = tl.dpo_loss(pc, pr, rc, rr, beta=0.5)
    margin = 0.5 * ((pc - rc) - (pr - rr))
    torch.testing.assert_close(out.loss, -torch.log(torch.sigmoid(margin)).mean())
    torch.testing.assert_close(out.chosen_rewards, 0.5 * (pc - rc).detach())
    torch.testing.assert_close(out.rejected_rewards, 0.5 * (pr - rr).detach())
    assert not out.chosen_rewards.requires_grad and not out.rejected_rewards.requires_grad
    out.loss.backward()
    # d loss / d pi_c = -beta * sigmoid(-margin) / B: raising the chosen lowers the loss.
    torch.testing.assert_close(pc.grad, -0.5 * torch.sigmoid(-margin.detach()) / 2)
    torch.testing.assert_close(pr.grad, 0.5 * torch.sigmoid(-margin.detach()) / 2)


def test_no_gradient_reaches_the_reference():
    policy = torch.randn(4, 2, requires_grad=True)
    reference = torch.randn(4, 2, requires_grad=True)  # as if computed with grad on
    out = tl.dpo_loss(policy[:, 0], policy[:, 1], reference[:, 0], reference[:, 1])
    out.loss.backward()
    assert reference.grad is None and policy.grad is not None


def test_a_policy_equal_to_its_reference_has_loss_log_2():
    lp = torch.tensor([-1.0, -7.0, -3.0])
    assert tl.dpo_loss(lp, lp - 1, lp, lp - 1).loss.item() == pytest.approx(math.log(2))


finite = st.floats(-50, 0, allow_nan=False)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, finite), min_size=1, max_size=5),
       st.floats(0.01, 5.0))  # fmt: skip
def test_the_loss_is_positive_and_falls_as_the_chosen_answer_gains(rows, beta):
    pc, pr, rc, rr = (torch.tensor(col, dtype=torch.float64) for col in zip(*rows, strict=True))
    loss = tl.dpo_loss(pc, pr, rc, rr, beta=beta).loss
    assert loss.item() > 0
    assert tl.dpo_loss(pc + 1.0, pr, rc, rr, beta=beta).loss.item() <= loss.item()
    assert tl.dpo_loss(pc, pr + 1.0, rc, rr, beta=beta).loss.item() >= loss.item()


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: tl.sequence_logprob(torch.randn(2, 3), torch.zeros(2, 3).long()), ValueError,
         r"logits must be a floating-point \(B, T, V\) tensor"),
        (lambda: tl.sequence_logprob(torch.randn(2, 3, 4), torch.zeros(2, 4).long()), ValueError,
         r"targets must have shape \(B, T\) = \(2, 3\)"),
        (lambda: tl.sequence_logprob(torch.randn(2, 3, 4), torch.zeros(2, 3)), TypeError,
         "targets must be a long tensor"),
        (lambda: tl.dpo_loss(torch.zeros(2), torch.zeros(3), torch.zeros(2), torch.zeros(2)),
         ValueError, r"policy_rejected must have shape \(B,\) = \(2,\)"),
        (lambda: tl.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2, 1), torch.zeros(2)),
         ValueError, "reference_chosen must have shape"),
        (lambda: tl.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), [0.0, 0.0]),
         TypeError, "reference_rejected must be a floating-point tensor"),
        (lambda: tl.dpo_loss(*[torch.zeros(2)] * 4, beta=0), ValueError,
         "beta must be a number > 0"),
    ],
)  # fmt: skip
def test_bad_input_is_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
