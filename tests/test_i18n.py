"""The Chinese edition's message catalogues (``locales/``, ``scripts/i18n.py``).

Every page has a catalogue; every message in it is translated and not fuzzy; a translation
keeps the roles and maths of its English message; and the catalogues hold exactly the messages
of today's English pages, so that an English edit cannot leave the Chinese edition silently
showing English. The built edition itself is checked in ``tests/test_book_browser.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import i18n  # noqa: E402
import language_switch  # noqa: E402

CATALOGUES = sorted(i18n.CATALOGUES.rglob("*.po"))


def _name(po: Path) -> str:
    return po.relative_to(i18n.CATALOGUES).with_suffix("").as_posix()


def test_every_page_of_the_book_has_a_catalogue():
    pages = set(
        re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", (ROOT / "_toc.yml").read_text(), re.M)
    )
    assert pages and {_name(po) for po in CATALOGUES} == pages


@pytest.mark.parametrize("po", CATALOGUES, ids=_name)
def test_every_message_is_translated_and_keeps_its_markup(po):
    problems = i18n.problems(po)
    assert not problems, "\n".join(problems[:20]) + "\n(python scripts/i18n.py check)"


def _catalogue(tmp_path: Path, pairs: list[tuple[str, str, bool]]) -> Path:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalogue = Catalog(locale=i18n.LOCALE)
    for source, translation, fuzzy in pairs:
        catalogue.add(source, translation, flags=["fuzzy"] if fuzzy else [])
    po = tmp_path / "page.po"
    with po.open("wb") as f:
        write_po(f, catalogue, width=0)
    return po


def test_the_check_finds_untranslated_fuzzy_and_broken_messages(tmp_path):
    pairs = [
        ("Attention is all you need.", "", False),
        ("A head.", "一个头。", True),
        ("Scores use $\\sqrt{d_k}$.", "分数使用 $\\sqrt{d}$。", False),
        ("See {cite:p}`vaswani2017attention`.", "见原论文。", False),
        (
            "A {term}`token <token>` and {doc}`chapter 1 <01_attention>`.",
            "一个{term}`词元 <token>`，见{doc}`第 1 章 <01_attention>`。",
            False,
        ),  # fmt: skip
        ("Took {glue:}`seconds` s.", "用时 {glue:}`x.ipynb::seconds` 秒。", False),
    ]
    found = i18n.problems(_catalogue(tmp_path, pairs))
    assert len(found) == 4, found
    assert "untranslated" in found[0] and "fuzzy" in found[1]
    assert "sqrt" in found[2] and "cite:p" in found[3]


def test_glue_roles_take_the_path_form_and_compare_equal():
    text = "{glue:}`acc` % and {glue:text}`word` and {glue:text}`loss:.2f`"
    path_form = i18n.glue_path_form(text, "notebooks/01_attention")
    assert path_form == (
        "{glue:}`01_attention.ipynb::acc` % and {glue:text}`01_attention.ipynb::word:s` "
        "and {glue:text}`01_attention.ipynb::loss:.2f`"
    )
    assert i18n.glue_path_form(path_form, "notebooks/01_attention") == path_form
    assert i18n.normalise(text) == i18n.normalise(path_form)


def test_only_glued_words_may_be_replaced_by_glued_numbers():
    glued = {"verdict": "'faster'", "rnn_s": "12", "tf_s": "3.5"}
    source = i18n.normalise("The Transformer was {glue:text}`verdict`.")
    numbers = i18n.normalise("用时 {glue:}`x.ipynb::tf_s` 与 {glue:}`x.ipynb::rnn_s` 秒。")
    assert i18n.words_rephrased(source, numbers, glued)
    # a number may not be dropped, nor a key invented
    assert not i18n.words_rephrased(numbers, source, glued)
    invented = i18n.normalise("{glue:}`x.ipynb::nowhere`")
    assert not i18n.words_rephrased(source, invented, glued)


def test_the_chinese_configuration_is_the_english_one_plus_the_language(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setattr(i18n, "ZH_CONFIG", tmp_path / "_config.zh_CN.yml")
    english = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    chinese = yaml.safe_load(i18n.config().read_text(encoding="utf-8"))
    options = chinese["sphinx"]["config"]
    assert options["language"] == "zh_CN" and options["gettext_compact"] is False
    assert Path(options["locale_dirs"][0]) == i18n.LOCALES
    assert chinese["parse"] == english["parse"] and chinese["execute"] == english["execute"]
    for path in chinese["sphinx"]["local_extensions"].values():
        assert Path(path).is_dir()


@pytest.mark.parametrize(
    "language, page, link",
    [
        ("en", "book/intro", "../zh_CN/book/intro.html"),
        ("zh_CN", "book/intro", "../../book/intro.html"),
        ("en", "notebooks/01_attention", "../zh_CN/notebooks/01_attention.html"),
        ("zh_CN", "search", "../search.html"),
    ],
)
def test_the_language_switch_points_at_the_same_page(language, page, link):
    assert language_switch.other_edition(language, page)["url"] == link


@pytest.mark.slow
def test_the_catalogues_hold_exactly_the_messages_of_the_english_pages(tmp_path):
    """Fails after an English edit until ``make gettext`` (and a translation) catch up."""
    from babel.messages.pofile import read_po

    stale = {}
    for document, template in i18n.templates(tmp_path).items():
        po = i18n.CATALOGUES / f"{document}.po"
        assert po.exists(), f"{document} has no catalogue: run make gettext"
        with po.open("rb") as f:
            translated = {m.id for m in read_po(f) if m.id}
        english = {m.id for m in template if m.id}
        if english != translated:
            stale[document] = (sorted(english - translated)[:3], sorted(translated - english)[:3])
    assert not stale, f"catalogues out of step (new English, gone English): {stale}"
