"""A Sphinx extension that links every page to the same page in the other edition.

The English edition is built into ``_build/html`` and the Chinese one into
``_build/html/zh_CN`` (``scripts/build_book.py``), so the same page in the other language is
found by adding or removing that folder. The link sits in the header of every article, next
to the theme's buttons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
FOLDER = "zh_CN"  # where the Chinese edition sits inside the English one


def _register(app: Any, config: Any) -> None:
    config.templates_path.append(str(TEMPLATES))
    config.html_static_path.append(str(STATIC))
    options = dict(config.html_theme_options or {})
    options["article_header_end"] = ["language-switch.html", "article-header-buttons.html"]
    config.html_theme_options = options


def other_edition(language: str | None, pagename: str) -> dict[str, str]:
    """The link from ``pagename`` in the edition of ``language`` to the other edition."""
    up = "../" * pagename.count("/")
    if language == "zh_CN":
        return {"url": f"{up}../{pagename}.html", "label": "English", "lang": "en"}
    return {"url": f"{up}{FOLDER}/{pagename}.html", "label": "中文", "lang": "zh-CN"}


def _context(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    context["other_edition"] = other_edition(app.config.language, pagename)


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _register)
    app.connect("html-page-context", _context)
    app.add_css_file("language_switch.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
