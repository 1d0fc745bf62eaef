"""Write book/api.md, the API reference page: every public name of transformer_lib, grouped.

The grouping is the package's own: one section per subpackage (its docstring is the
introduction), one subsection per module, the names in the order of ``transformer_lib._API``,
the one table that also builds ``tl.__all__``. Run it after adding a public name:
``.venv/bin/python scripts/build_api_page.py``. The page is Sphinx autodoc directives, so the
text itself comes from the docstrings at build time; ``tests/test_api_page.py`` fails when
the page and ``transformer_lib.__all__`` disagree.
"""

import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import transformer_lib as tl  # noqa: E402

# Section order: from the building blocks up to training, as the chapters meet them.
ORDER = ["modules", "models", "generation", "training", "data", "datasets", "evaluation", "utils"]


def first_paragraph(module) -> str:
    return " ".join((inspect.getdoc(module) or "").split("\n\n")[0].split())


def directive(name: str) -> list[str]:
    o = getattr(tl, name)
    if inspect.isclass(o):
        options = ["   :members:"]
        # Methods a model gets from the library's mixins (GPT.generate, save_pretrained, ...)
        # are documented with it; those of torch.nn.Module are not.
        if any(c.__module__.startswith("transformer_lib") for c in o.__mro__[1:]):
            options.append("   :inherited-members: Module")
        return ["```{eval-rst}", f".. autoclass:: {name}", *options, "```", ""]
    if callable(o):
        return ["```{eval-rst}", f".. autofunction:: {name}", "```", ""]
    return ["```{eval-rst}", f".. autodata:: {name}", "```", ""]


out = [
    "# API reference",
    "",
    "Everything below is imported from the package root (`import transformer_lib as tl`) and",
    "documented from the library's own docstrings, so this page and `help(tl.GPT)` say the same.",
    "The sections follow the package's folders (`transformer_lib/modules/`, `models/`, ...); each",
    "heading names the module that defines the names under it.",
    "Shapes follow the book's conventions: batch first, `(B, T, d_model)` between layers and",
    '`(B, H, T, d_head)` inside attention; boolean masks mean "may attend".',
    "",
    "```{eval-rst}",
    ".. currentmodule:: transformer_lib",
    "```",
    "",
]
packages = {module.split(".")[0] for module in tl._API}
if packages != set(ORDER):
    sys.exit(f"scripts/build_api_page.py: ORDER must list exactly {sorted(packages)}")
count = 0
for package in ORDER:
    pkg = importlib.import_module(f"transformer_lib.{package}")
    out += [f"## `{package}`", "", first_paragraph(pkg), ""]
    for module, names in tl._API.items():
        if module.split(".")[0] != package:
            continue
        mod = importlib.import_module(f"transformer_lib.{module}")
        out += [f"### `transformer_lib.{module}`", "", first_paragraph(mod), ""]
        for name in names:
            out += directive(name)
            count += 1
(ROOT / "book" / "api.md").write_text("\n".join(out), encoding="utf-8")
print(f"wrote book/api.md: {count} names")
