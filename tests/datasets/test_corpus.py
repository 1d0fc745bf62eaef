"""Tests of the committed English-Spanish parallel corpus (data/bible_en_es/) and its loader."""

import re

import pytest

from transformer_lib.datasets.parallel_corpus import PARALLEL_CORPUS_PATH, load_parallel_corpus


@pytest.fixture(scope="module")
def rows() -> dict[str, tuple[str, str]]:
    lines = PARALLEL_CORPUS_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ref\ten\tes"
    out = {}
    for line in lines[1:]:
        ref, en, es = line.split("\t")
        out[ref] = (en, es)
    assert len(out) == len(lines) - 1, "duplicate refs"
    return out


def test_file_exists_with_header_and_enough_rows(rows):
    assert PARALLEL_CORPUS_PATH.is_file()
    assert len(rows) >= 5000


def test_no_empty_fields_or_markup(rows):
    strongs = re.compile(r"\{[^}]*\d[^}]*\}|strong:[GH]\d|lemma=")
    for ref, (en, es) in rows.items():
        for text in (ref, en, es):
            assert text and text == text.strip(), ref
            assert "<" not in text and ">" not in text, ref
            assert not strongs.search(text), ref
            assert "\\" not in text and "\u00b6" not in text and "  " not in text, ref


def test_at_most_40_words(rows):
    for ref, (en, es) in rows.items():
        assert len(en.split()) <= 40 and len(es.split()) <= 40, ref


def test_well_known_verses(rows):
    en, es = rows["Gen 1:1"]
    assert en.startswith("In the beginning God created the heaven and the earth")
    assert es.startswith("EN el principio crió Dios los cielos y la tierra")
    assert rows["John 11:35"] == ("Jesus wept.", "Y lloró Jesús.")
    assert rows["Exod 20:13"] == ("Thou shalt not kill.", "No matarás.")
    # Psalm superscriptions are kept on both sides; the Spanish acrostic letters are not.
    assert rows["Ps 23:1"][0].startswith("A Psalm of David. The LORD is my shepherd")
    assert rows["Ps 119:1"][1].startswith("BIENAVENTURADOS")


def test_misaligned_chapters_left_out(rows):
    # The Spanish module keeps Spanish verse numbers in a few chapters (Num 13:1 es is
    # KJV Num 12:16); the build script drops those chapters whole.
    for ref in ("Num 13:1", "Job 39:1", "Jonah 2:1", "Num 12:16", "2Cor 13:12"):
        assert ref not in rows
    assert rows["Job 41:2"][1].startswith("¿Pondrás tú garfio en sus narices")


def test_loader_matches_file(rows):
    pairs = load_parallel_corpus()
    assert pairs == list(rows.values())
    assert all(isinstance(en, str) and isinstance(es, str) for en, es in pairs)


def test_loader_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_parallel_corpus(tmp_path / "nope.tsv")


def test_loader_bad_header(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("en\tes\nHello\tHola\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        load_parallel_corpus(bad)


def test_loader_custom_path(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("ref\ten\tes\nX 1:1\tHello.\tHola.\n", encoding="utf-8")
    assert load_parallel_corpus(str(good)) == [("Hello.", "Hola.")]
