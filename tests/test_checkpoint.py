"""Tests of checkpoint save/load: round trips, atomic writes, clear errors, tied weights."""

import json
import os

import pytest
import torch
from torch import nn

from transformer_lib import checkpoint
from transformer_lib.checkpoint import load_checkpoint, save_checkpoint


class TiedLM(nn.Module):
    """An embedding whose weight is also the output projection (weight tying)."""

    def __init__(self, vocab_size=11, d_model=8):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size, bias=False)
        self.out.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, ids):
        return self.out(self.norm(self.embed(ids)) * self.scale)


def trained(seed=0, steps=3):
    """A model with an optimizer and scheduler that have state worth saving."""
    torch.manual_seed(seed)
    model = TiedLM()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    ids = torch.randint(11, (4, 5), generator=torch.Generator().manual_seed(seed))
    for _ in range(steps):
        loss = model(ids).logsumexp(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler, ids


def test_round_trip_identical_outputs_and_optimizer_state(tmp_path):
    model, optimizer, scheduler, ids = trained()
    path = save_checkpoint(
        tmp_path / "ckpt",
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        step=3,
        config={"vocab_size": 11},
        extra={"note": "ü"},
    )
    assert sorted(os.listdir(path)) == ["config.json", "model.safetensors", "training_state.pt"]
    assert json.loads((path / "config.json").read_text())["step"] == 3

    model2, optimizer2, scheduler2, _ = trained(seed=1, steps=1)
    info = load_checkpoint(path, model2, optimizer=optimizer2, scheduler=scheduler2)
    assert info == {"step": 3, "config": {"vocab_size": 11}, "extra": {"note": "ü"}}
    torch.testing.assert_close(model2(ids), model(ids), rtol=0, atol=0)
    s1, s2 = optimizer.state_dict(), optimizer2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for key in s1["state"]:
        for name, value in s1["state"][key].items():
            torch.testing.assert_close(s2["state"][key][name], value, rtol=0, atol=0)
    assert scheduler2.state_dict() == scheduler.state_dict()


def test_tied_weights_survive(tmp_path):
    model, _, _, ids = trained()
    save_checkpoint(tmp_path / "tied", model)
    fresh = TiedLM()
    load_checkpoint(tmp_path / "tied", fresh)
    assert fresh.out.weight is fresh.embed.weight  # still one parameter, not two
    torch.testing.assert_close(fresh(ids), model(ids), rtol=0, atol=0)


def test_restore_rng(tmp_path):
    model = nn.Linear(2, 2)
    torch.manual_seed(7)
    save_checkpoint(tmp_path / "c", model)
    expected = torch.rand(5)
    torch.manual_seed(8)
    load_checkpoint(tmp_path / "c", model, restore_rng=True)
    torch.testing.assert_close(torch.rand(5), expected, rtol=0, atol=0)


def test_overwrite_leaves_no_temporary_files(tmp_path):
    model = nn.Linear(3, 3)
    for step in range(3):
        save_checkpoint(tmp_path / "c", model, step=step)
    assert os.listdir(tmp_path) == ["c"]
    assert load_checkpoint(tmp_path / "c", model)["step"] == 2


@pytest.mark.parametrize("where", ["writer", "switch"])
def test_crash_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch, where):
    path = tmp_path / "c"
    model, _, _, ids = trained()
    save_checkpoint(path, model, step=1)
    expected = model(ids)
    with torch.no_grad():
        model.embed.weight.add_(1.0)  # the new state that the crash must not half-write

    if where == "writer":
        # Dies after some files of the new checkpoint are written, before the switch.
        def crash(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(checkpoint.torch, "save", crash)
    else:
        # Dies right after the old directory was moved aside, before the new one is in place.
        real_replace = os.replace
        calls = []

        def crash_second_replace(src, dst):
            calls.append(dst)
            if len(calls) == 2:
                raise OSError("power cut")
            real_replace(src, dst)

        monkeypatch.setattr(checkpoint.os, "replace", crash_second_replace)

    with pytest.raises(OSError):
        save_checkpoint(path, model, step=2)
    monkeypatch.undo()

    fresh = TiedLM()
    assert load_checkpoint(path, fresh)["step"] == 1
    torch.testing.assert_close(fresh(ids), expected, rtol=0, atol=0)
    assert not any(".tmp-" in name for name in os.listdir(tmp_path))
    # The next successful save cleans up and is what loads from then on.
    save_checkpoint(path, model, step=3)
    assert load_checkpoint(path, TiedLM())["step"] == 3
    assert os.listdir(tmp_path) == ["c"]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_checkpoint(tmp_path / "nowhere", nn.Linear(2, 2))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_checkpoint(tmp_path / "empty", nn.Linear(2, 2))


def test_truncated_weights_give_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "c", nn.Linear(8, 8))
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors.*truncated or corrupted"):
        load_checkpoint(path, nn.Linear(8, 8))


def test_corrupted_json_gives_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "c", nn.Linear(2, 2))
    (path / "config.json").write_text('{"step": 3, "conf')
    with pytest.raises(ValueError, match=r"config\.json is corrupted"):
        load_checkpoint(path, nn.Linear(2, 2))


def test_corrupted_training_state_gives_a_clear_error(tmp_path):
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path / "c", model, optimizer=optimizer)
    (path / "training_state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"training_state\.pt"):
        load_checkpoint(path, model, optimizer=optimizer)
    # The weights alone still load.
    load_checkpoint(path, model)


def test_state_file_never_executes_code(tmp_path):
    """A pickle that would run code on load is refused (weights_only=True)."""
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path / "c", model, optimizer=optimizer)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"optimizer": Evil()}, path / "training_state.pt")
    with pytest.raises(ValueError, match="training_state"):
        load_checkpoint(path, model, optimizer=optimizer)
    assert not (tmp_path / "pwned").exists()


def test_wrong_shape_names_the_parameter(tmp_path):
    path = save_checkpoint(tmp_path / "c", TiedLM(vocab_size=11))
    with pytest.raises(ValueError, match=r"embed\.weight.*\(11, 8\).*\(12, 8\)"):
        load_checkpoint(path, TiedLM(vocab_size=12))


def test_missing_and_unexpected_keys(tmp_path):
    path = save_checkpoint(tmp_path / "c", nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"missing keys \['1\.bias', '1\.weight'\]"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"unexpected keys \['0\.bias'\]"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 2, bias=False)))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "c", nn.Linear(2, 2), config={"f": object()})
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path / "c", nn.Linear(2, 2), step=-1)
    assert not (tmp_path / "c").exists()
    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "c", model)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "c", model, optimizer=torch.optim.SGD(model.parameters(), 0.1))
