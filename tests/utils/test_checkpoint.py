"""Tests of checkpoint save/load: round trips, atomic writes, clear errors, tied weights."""

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

import transformer_lib as tl
from transformer_lib.utils import checkpoint
from transformer_lib.utils.checkpoint import load_checkpoint, save_checkpoint


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
        # Dies after the first file of the new checkpoint is written, before the switch.
        real_write = checkpoint._write_bytes
        writes = []

        def crash_second_write(file, data):
            writes.append(file)
            if len(writes) == 2:
                raise OSError("disk full")
            real_write(file, data)

        monkeypatch.setattr(checkpoint, "_write_bytes", crash_second_write)
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


# --------------------------------------------------------------------------------------------
# Damaged checkpoints: every kind of damage is a ValueError that names the file, never a
# crash deep inside a parser, and the objects being loaded into are left as they were.
# --------------------------------------------------------------------------------------------


def _flip(offset):
    def damage(file):
        data = bytearray(file.read_bytes())
        data[offset] ^= 0x01  # one bit
        file.write_bytes(bytes(data))

    return damage


def _truncate(file):
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _append(file):
    file.write_bytes(file.read_bytes() + b"\0")


def _garbage(file):
    file.write_bytes(b"\xff\xfe garbage \x00" * 3)


def _edit_meta(change):
    def damage(file):
        meta = json.loads(file.read_text())
        change(meta)
        file.write_text(json.dumps(meta))

    return damage


def _set(key, value):
    return _edit_meta(lambda meta: meta.__setitem__(key, value))


DAMAGE = {
    # name: (file, damage, pattern the message must match)
    "weights truncated": ("model.safetensors", _truncate, r"model\.safetensors is truncated"),
    "weights longer": ("model.safetensors", _append, r"model\.safetensors is longer"),
    "weights garbage": ("model.safetensors", _garbage, r"model\.safetensors is truncated"),
    "weights bit in the header": ("model.safetensors", _flip(12), r"safetensors is corrupted"),
    "weights bit in the data": ("model.safetensors", _flip(-1), r"safetensors is corrupted"),
    "weights deleted": ("model.safetensors", Path.unlink, r"model\.safetensors is missing"),
    "state truncated": ("training_state.pt", _truncate, r"training_state\.pt is truncated"),
    "state garbage": ("training_state.pt", _garbage, r"training_state\.pt is truncated"),
    "state bit flipped": ("training_state.pt", _flip(100), r"training_state\.pt is corrupted"),
    "state deleted": ("training_state.pt", Path.unlink, r"training_state\.pt is missing"),
    "config truncated": ("config.json", _truncate, r"config\.json is truncated or corrupted"),
    "config garbage": ("config.json", _garbage, r"config\.json is truncated or corrupted"),
    "config not a checkpoint's": (
        "config.json",
        lambda f: f.write_text('{"model_type": "bert"}'),
        r"config\.json is not a checkpoint description",
    ),
    "config step not an int": ("config.json", _set("step", "3"), r"config\.json.*'step'"),
    "config version not an int": (
        "config.json",
        _set("format_version", "1"),
        r"config\.json has an invalid format_version '1'",
    ),
    "config files entry broken": ("config.json", _set("files", [1]), r"invalid 'files'"),
}


def _saved_run(tmp_path):
    model, optimizer, scheduler, ids = trained()
    path = save_checkpoint(tmp_path / "c", model, optimizer=optimizer, scheduler=scheduler)
    return path


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_checkpoint_gives_a_clear_error_and_changes_nothing(tmp_path, case):
    name, damage, pattern = DAMAGE[case]
    path = _saved_run(tmp_path)
    damage(path / name)

    model, optimizer, scheduler, ids = trained(seed=1, steps=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer_before = str(optimizer.state_dict())
    torch.manual_seed(99)
    with pytest.raises(ValueError, match=pattern) as error:
        load_checkpoint(path, model, optimizer=optimizer, scheduler=scheduler, restore_rng=True)
    message = str(error.value)
    assert str(path) in message  # the file's full path, so the reader can find it
    assert "earlier checkpoint" in message  # and what to do about it
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert str(optimizer.state_dict()) == optimizer_before
    assert scheduler.last_epoch == 1
    torch.manual_seed(99)
    expected_draw = torch.rand(3)
    torch.manual_seed(99)
    assert torch.equal(torch.rand(3), expected_draw)  # the RNG was not restored either


def test_damaged_training_state_does_not_stop_loading_the_weights(tmp_path):
    path = _saved_run(tmp_path)
    _garbage(path / "training_state.pt")
    model = TiedLM()
    load_checkpoint(path, model)  # the weights alone need only model.safetensors
    (path / "training_state.pt").unlink()
    load_checkpoint(path, model)


def test_newer_format_version_asks_for_a_newer_library(tmp_path):
    path = _saved_run(tmp_path)
    _set("format_version", 99)(path / "config.json")
    with pytest.raises(ValueError, match=r"format version 99, newer than the 1.*update"):
        load_checkpoint(path, TiedLM())


def test_weights_of_another_architecture_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "c", nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    with pytest.raises(ValueError, match=r"model\.safetensors does not fit TiedLM: .*missing"):
        load_checkpoint(path, TiedLM())


def _drop_checksums(path):
    _edit_meta(lambda meta: meta.pop("files"))(path / "config.json")


def test_without_checksums_the_parsers_still_catch_truncation_and_garbage(tmp_path):
    """Checkpoints written before checksums (no "files" entry) still load, and damage that
    breaks a file's structure is still a clear error from the parser's side."""
    path = _saved_run(tmp_path)
    _drop_checksums(path)
    model, optimizer, scheduler, _ = trained(seed=1, steps=1)
    load_checkpoint(path, model, optimizer=optimizer, scheduler=scheduler)

    _truncate(path / "model.safetensors")
    _garbage(path / "training_state.pt")
    with pytest.raises(ValueError, match=r"model\.safetensors is truncated or corrupted"):
        load_checkpoint(path, model)
    path = save_checkpoint(tmp_path / "d", model, optimizer=optimizer)
    _drop_checksums(path)
    _garbage(path / "training_state.pt")
    with pytest.raises(ValueError, match=r"training_state\.pt is truncated, corrupted"):
        load_checkpoint(path, model, optimizer=optimizer)


def test_a_flipped_bit_in_the_weights_is_silent_without_the_checksum(tmp_path):
    """Why the checksums: the parser accepts a changed number inside the weights."""
    model, _, _, ids = trained()
    path = save_checkpoint(tmp_path / "c", model)
    _flip(-1)(path / "model.safetensors")
    with pytest.raises(ValueError, match="SHA-256"):
        load_checkpoint(path, TiedLM())
    _drop_checksums(path)
    fresh = TiedLM()
    load_checkpoint(path, fresh)  # loads, but a weight differs from the saved one
    saved, loaded = model.state_dict(), fresh.state_dict()
    assert any(not torch.equal(saved[k], loaded[k]) for k in saved)


def _refresh_checksum(path, name):
    """What an attacker who can write the files would do: make the checksum match."""
    data = (path / name).read_bytes()
    entry = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    _edit_meta(lambda meta: meta["files"].__setitem__(name, entry))(path / "config.json")


class Evil:
    """A pickle that runs a shell command when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_state_file_never_executes_code(tmp_path):
    """A pickle that would run code on load is refused (weights_only=True), even when the
    checksum in config.json was updated to match it."""
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path / "c", model, optimizer=optimizer)
    marker = tmp_path / "pwned"
    torch.save({"optimizer": Evil(marker)}, path / "training_state.pt")
    _refresh_checksum(path, "training_state.pt")
    with pytest.raises(ValueError, match=r"training_state\.pt is truncated, corrupted or unsafe"):
        load_checkpoint(path, model, optimizer=optimizer)
    assert not marker.exists()
    # The same pickle in place of the weights is not even parsed as a pickle.
    torch.save({"weight": Evil(marker)}, path / "model.safetensors")
    _refresh_checksum(path, "model.safetensors")
    with pytest.raises(ValueError, match=r"model\.safetensors is truncated or corrupted"):
        load_checkpoint(path, model)
    assert not marker.exists()


def test_wrong_shape_names_the_parameter(tmp_path):
    path = save_checkpoint(tmp_path / "c", TiedLM(vocab_size=11))
    with pytest.raises(ValueError, match=r"embed\.weight.*\(11, 8\).*\(12, 8\)"):
        load_checkpoint(path, TiedLM(vocab_size=12))


def test_missing_and_unexpected_keys(tmp_path):
    path = save_checkpoint(tmp_path / "c", nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"2 missing \(1\.bias, 1\.weight\)"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"1 unexpected \(0\.bias\)"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 2, bias=False)))


def test_a_mismatch_is_summarised_in_a_short_message(tmp_path):
    """A checkpoint of another width: the count, the first few keys, the config difference."""
    small = tl.GPT(tl.GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=2))
    wide = tl.GPT(tl.GPTConfig(vocab_size=11, max_len=8, d_model=32, num_heads=2, num_layers=2))
    path = tmp_path / "c"
    small.save_pretrained(path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, wide)
    message = str(info.value)
    assert len(message) < 400, message
    assert "of another shape" in message and "and " in message and "more" in message
    assert "d_model 16 vs 32" in message


def test_lora_mismatches_say_what_to_call(tmp_path):
    config = tl.GPTConfig(vocab_size=11, max_len=8, d_model=16, num_heads=2, num_layers=1)
    plain, adapted = tl.GPT(config), tl.add_lora(tl.GPT(config), r=2)
    save_checkpoint(tmp_path / "adapted", adapted)
    save_checkpoint(tmp_path / "plain", plain)
    with pytest.raises(ValueError, match="call add_lora on the model first"):
        load_checkpoint(tmp_path / "adapted", tl.GPT(config))
    with pytest.raises(ValueError, match="call merge_lora on it first"):
        load_checkpoint(tmp_path / "plain", adapted)


def test_a_compiled_model_is_saved_under_plain_names(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    compiled = torch.compile(model)  # compiling is lazy: wrapping costs nothing here
    save_checkpoint(tmp_path / "c", compiled)
    fresh = nn.Sequential(nn.Linear(2, 2))
    load_checkpoint(tmp_path / "c", fresh)
    torch.testing.assert_close(fresh[0].weight, model[0].weight, rtol=0, atol=0)
    load_checkpoint(tmp_path / "c", compiled)  # and into a compiled one


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
