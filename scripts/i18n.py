"""The Chinese edition: message catalogues and the configuration that builds it.

English is the source. Sphinx's gettext builder extracts every paragraph, heading and caption
of the book as a message; the translations live in ``locales/zh_CN/LC_MESSAGES/``, one ``.po``
file per document (``book/intro.po``, ``notebooks/01_attention.po``, ...). Sphinx compiles
them to ``.mo`` files when it builds the Chinese edition (build products, not committed).

    python scripts/i18n.py update   # after English prose changes: refresh the catalogues
    python scripts/i18n.py config   # write _build/_config.zh_CN.yml and _toc.zh_CN.yml
    python scripts/i18n.py check [file.po ...]  # untranslated, fuzzy, or broken roles

``update`` keeps every translation whose English text is unchanged; a message whose English
changed comes back as *fuzzy* (the old translation kept as a hint) and a new message as
untranslated. ``tests/test_i18n.py`` fails until both are translated. The API reference's
docstrings stay in English, so their messages are left out of the catalogue.

A ``{glue:}`` role with a local key is dropped from a translated paragraph (Sphinx parses the
translation on its own, without the notebook's glued values), so in ``msgstr`` every glue role
uses the path form, ``{glue:}`01_attention.ipynb::key```. ``update`` rewrites local keys that
way, and ``normalise`` undoes it when the tests compare a translation's roles with the source's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCALE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGUES = LOCALES / LOCALE / "LC_MESSAGES"
GETTEXT_OUT = ROOT / "_build" / "i18n"
ZH_CONFIG = ROOT / "_build" / f"_config.{LOCALE}.yml"
ZH_TOC = ROOT / "_build" / f"_toc.{LOCALE}.yml"
TITLE = "从第一性原理理解 Transformer"

# {role}`content`, or {role}``content`` (MyST allows longer backtick fences)
ROLE = re.compile(r"\{([a-z][\w:.-]*)\}(`+)(.+?)\2")
# $...$ or $$...$$ (not a lone dollar in prose)
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\s](?:[^$]*[^$\s])?\$")
GLUE_ROLES = {"glue", "glue:", "glue:text", "glue:md"}


def glue_path_form(text: str, document: str) -> str:
    """Rewrite ``{glue:}`key``` as ``{glue:}`<notebook>.ipynb::key``` (a format for glue:text)."""
    notebook = Path(document).name + ".ipynb"

    def rewrite(m: re.Match[str]) -> str:
        role, fence, content = m.groups()
        if role not in GLUE_ROLES or "::" in content:
            return m.group(0)
        if role == "glue:text" and ":" not in content:
            content += ":s"  # the path form needs a format; ":s" prints the value as glued
        return f"{{{role}}}{fence}{notebook}::{content}{fence}"

    return ROLE.sub(rewrite, text)


def role_target(role: str, content: str) -> str:
    """What a role points at: ``{term}`注意力 <attention>``` and ``{term}`attention``` agree."""
    if role in GLUE_ROLES:
        content = content.split("::")[-1]
        if role == "glue:text" and content.endswith(":s"):
            content = content[:-2]
        return content
    m = re.fullmatch(r"(.*?)\s*<(.+)>", content, flags=re.S)
    return m.group(2) if m else content


def cells(notebook: Path) -> list[dict[str, Any]]:
    """A notebook's cells, read as JSON."""
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def glued_values(notebook: Path) -> dict[str, str]:
    """Every key a notebook glues, with its value as stored (``repr``: a str is quoted)."""
    values = {}
    for cell in cells(notebook):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = output["data"].get("application/papermill.record/text/plain", "")
    return values


def normalise(text: str) -> list[str]:
    """The roles (with their targets) and math spans of a message, sorted: a translation must
    keep exactly the source's."""
    found = [f"{{{r}}}{role_target(r, c)}" for r, _, c in ROLE.findall(text)]
    without_roles = ROLE.sub(" ", text)
    without_code = re.sub(r"`[^`]*`", " ", without_roles)
    found += [m.replace(" ", "") for m in MATH.findall(without_code)]
    return sorted(found)


def problems(po: Path) -> list[str]:
    """What is wrong with one catalogue: untranslated or fuzzy messages, and translations whose
    roles or maths differ from the English."""
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalogue = read_po(f, locale=LOCALE)
    name = po.relative_to(CATALOGUES) if po.is_relative_to(CATALOGUES) else Path(po.name)
    notebook = ROOT / name.with_suffix(".ipynb")
    glued = glued_values(notebook) if notebook.exists() else {}
    found = []
    for message in catalogue:
        if not message.id:
            continue
        where = f"{name}: {message.id[:60]!r}"
        if not message.string:
            found.append(f"{where}: untranslated")
        elif message.fuzzy:
            found.append(f"{where}: fuzzy")
        else:
            source, translation = normalise(message.id), normalise(message.string)
            if source != translation and not words_rephrased(source, translation, glued):
                found.append(f"{where}: roles or maths differ: {source} != {translation}")
    return found


def words_rephrased(source: list[str], translation: list[str], glued: dict[str, str]) -> bool:
    """Whether the only differences are glued *words*: a translation may drop a value that is
    English text ("faster", "higher") and state the glued numbers instead."""
    dropped = [x for x in source if x not in translation]
    added = [x for x in translation if x not in source]
    if any(not x.startswith("{glue") for x in dropped + added):
        return False
    key = lambda x: x.split("}", 1)[1].split(":")[0]  # noqa: E731  (no format suffix)
    is_text = lambda k: glued.get(k, "").startswith(("'", '"'))  # noqa: E731
    return all(is_text(key(x)) for x in dropped) and all(key(x) in glued for x in added)


def check(paths: list[str]) -> None:
    """Print the problems of the named catalogues (default: all); exit 1 if there are any."""
    pos = [Path(p).resolve() for p in paths] or sorted(CATALOGUES.rglob("*.po"))
    found = [line for po in pos for line in problems(po)]
    print("\n".join(found) or f"{len(pos)} catalogues: every message translated")
    sys.exit(1 if found else 0)


def markdown_text(notebook: Path) -> str:
    """The Markdown cells of a notebook, whitespace collapsed: where its prose messages are."""
    text = " ".join("".join(c["source"]) for c in cells(notebook) if c["cell_type"] == "markdown")
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)  # block quotes: "> " on every line
    return " ".join(text.split())


def code_cells(notebook: Path) -> set[int]:
    """The indices of a notebook's code cells."""
    return {i for i, c in enumerate(cells(notebook)) if c["cell_type"] == "code"}


def templates(out: Path = GETTEXT_OUT) -> dict[str, Any]:
    """The English messages of every document, as Babel catalogues keyed by document name.

    Sphinx's gettext builder runs over the English book (into ``out``); the API page's
    docstrings and the notebooks' printed outputs are left out: they stay English.
    """
    from babel.messages.pofile import read_po

    subprocess.run(
        [
            str(Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(ROOT),
            "--builder",
            "custom",
            "--custom-builder",
            "gettext",
            "--path-output",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    found = {}
    folder = out / "_build" / "gettext"
    for pot in sorted(folder.rglob("*.pot")):
        document = pot.relative_to(folder).with_suffix("").as_posix()
        with pot.open("rb") as f:
            template = read_po(f)
        notebook = ROOT / f"{document}.ipynb"
        prose = markdown_text(notebook) if notebook.exists() else None
        code = code_cells(notebook) if notebook.exists() else set()
        for message in list(template):
            if not message.id:
                continue
            # Babel reads "x.py:docstring of name:4" as the locations "of" and "name:4"
            docstring = ("of", None) in message.locations
            # myst-nb locates a message at 10000 * (cell index + 1) + line (0: unknown)
            output = prose is not None and (
                " ".join(message.id.split()) not in prose
                or any(line and line // 10000 - 1 in code for _, line in message.locations)
            )
            if docstring or output:
                template.delete(message.id, message.context)
        found[document] = template
    return found


def update() -> None:
    """Merge the English messages into the catalogues (new: empty; changed: fuzzy)."""
    from babel.messages.pofile import read_po, write_po

    kept = set()
    for document, template in templates().items():
        po = CATALOGUES / f"{document}.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with po.open("rb") as f:
                catalogue = read_po(f, locale=LOCALE)
            # Obsolete messages (kept as "#~" entries) come back if their English returns,
            # so an edit that is undone loses no translation.
            for message in list(catalogue.obsolete.values()):
                catalogue[message.id] = message
            catalogue.update(template, update_creation_date=False)
        else:
            catalogue = template
            catalogue.locale = LOCALE
        for message in catalogue:
            message.locations = []  # line numbers would churn with every English edit
            if message.id and message.string:
                message.string = glue_path_form(message.string, document)
        with po.open("wb") as f:
            write_po(f, catalogue, width=0, omit_header=False)
        kept.add(po)
    for stale in set(CATALOGUES.rglob("*.po")) - kept:
        stale.unlink()  # the document is gone from the book
    print(f"{len(kept)} catalogues in {CATALOGUES.relative_to(ROOT)}")


def toc() -> Path:
    """Write the Chinese table of contents: the English one with its part captions translated
    (Sphinx translates chapter titles from each page's catalogue, but not these captions)."""
    from babel.messages.pofile import read_po

    root = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    with (CATALOGUES / f"{root}.po").open("rb") as f:
        translated = {m.id: m.string for m in read_po(f) if m.id and m.string}

    def caption(m: re.Match[str]) -> str:
        return m.group(1) + translated.get(m.group(2), m.group(2))

    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    text = re.sub(r"^([ \t-]*caption:[ \t]*)(.*?)[ \t]*$", caption, text, flags=re.M)
    ZH_TOC.parent.mkdir(parents=True, exist_ok=True)
    ZH_TOC.write_text(text, encoding="utf-8")
    return ZH_TOC


def config() -> Path:
    """Write the Chinese edition's configuration: the English one plus language settings."""
    data = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    data["title"] = TITLE
    # paths in the configuration are read relative to its own folder (_build/)
    data["sphinx"]["local_extensions"] = {
        name: str((ROOT / path).resolve())
        for name, path in data["sphinx"]["local_extensions"].items()
    }
    data["sphinx"]["config"].update(
        language=LOCALE, locale_dirs=[str(LOCALES)], gettext_compact=False
    )
    ZH_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    ZH_CONFIG.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return ZH_CONFIG


if __name__ == "__main__":
    commands = {"update": update, "config": lambda: print(config(), toc())}
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        check(sys.argv[2:])
    elif len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit("usage: python scripts/i18n.py {update|config|check [file.po ...]}")
    else:
        commands[sys.argv[1]]()
