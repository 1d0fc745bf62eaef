"""A Sphinx extension that drops repeated inline scripts from every HTML page.

sphinx-thebe 0.3.1 under Jupyter Book 1 adds its configuration script (``const THEBE_JS_URL
= ...``) twice, and the second copy is a JavaScript error on every page ("Identifier
'THEBE_JS_URL' has already been declared"); the browser test in ``tests/test_book_browser.py``
found it. Identical scripts are redundant, so keeping the first of each is always safe.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple[str, tuple]:
    # An inline script's file name is None or "" depending on who added it: both mean none.
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {})
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _drop_repeats(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app) -> dict[str, Any]:
    # Sphinx emits html-page-context with emit_firstresult: once a handler returns a template
    # name, later ones do not run. So run early (the default priority is 500); the repeated
    # scripts were added when the documents were read, long before.
    app.connect("html-page-context", _drop_repeats, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
