"""Build both editions of the book: English into ``_build/html``, Chinese into
``_build/html/zh_CN`` (``make book`` runs this; the browser test too, into a temporary folder).

    python scripts/build_book.py [--path-output DIR] [--edition en|zh_CN|both]
        [jupyter-book options, e.g. -W -n --keep-going]

The Chinese edition is the same sources built with ``language: zh_CN`` and the catalogues in
``locales/`` (``scripts/i18n.py``); Jupyter Book writes it to ``DIR/_build/zh_CN/_build/html``
and it is copied into the English build, so that one folder serves both and each page's
language switch is a relative link.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import i18n  # noqa: E402

ROOT = i18n.ROOT


def jupyter_book(*args: str) -> subprocess.Popen:
    """Start ``jupyter-book build`` on the book; its output is collected, to print whole."""
    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb), "build", str(ROOT), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT)
    parser.add_argument("--edition", choices=["both", "en", "zh_CN"], default="both")
    args, options = parser.parse_known_args()
    out = args.path_output.resolve()
    zh_out = out / "_build" / i18n.LOCALE
    start = time.perf_counter()
    # The two builds share nothing but the sources, and each uses one core: run them side by
    # side, which halves the time on a 2-core machine.
    builds = {}
    if args.edition != "zh_CN":
        builds["English edition"] = jupyter_book("--path-output", str(out), *options)
    if args.edition != "en":
        zh_config = ["--config", str(i18n.config()), "--toc", str(i18n.toc())]
        builds["中文版 (Chinese edition)"] = jupyter_book(
            *zh_config, "--path-output", str(zh_out), *options
        )
    failed = False
    for name, build in builds.items():
        output, _ = build.communicate()
        print(f"== {name} ==\n{output}", flush=True)
        failed |= build.returncode != 0
    html = out / "_build" / "html"
    if html.is_dir() and (zh_out / "_build" / "html").is_dir():
        target = html / i18n.LOCALE
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(zh_out / "_build" / "html", target)
        print(f"Chinese edition copied into {target}")
    print(f"built in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
