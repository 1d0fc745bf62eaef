"""The API reference page (book/api.md) documents every public name of the library."""

import re
from pathlib import Path

import transformer_lib as tl

PAGE = Path(__file__).resolve().parent.parent / "book" / "api.md"


def test_every_public_name_is_on_the_api_page():
    documented = set(
        re.findall(r"^\.\. auto(?:class|function|data):: (\w+)$", PAGE.read_text(), re.M)
    )
    missing = sorted(set(tl.__all__) - documented)
    assert not missing, f"run scripts/build_api_page.py after adding {missing} to a section"
    unknown = sorted(documented - set(tl.__all__))
    assert not unknown, f"book/api.md documents names the package does not export: {unknown}"
