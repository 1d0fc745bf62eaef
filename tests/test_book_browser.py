"""The built book, opened in a real browser: headless Chromium, with no network.

The module builds the book into a temporary folder, serves it on localhost and opens every page
of the table of contents in Debian's Chromium, driven by Playwright. Every request that leaves
localhost is refused and recorded, so the book is shown to work offline. For each page it takes a
screenshot (kept in ``_build/screenshots`` for a person to look at) and asserts that:

* MathJax typeset the maths: one ``mjx-container`` per math element, and no raw ``\\(`` or
  ``\\[`` left in the visible text;
* every image loaded (complete, with a non-zero natural width);
* no JavaScript error was raised;
* every internal link resolves: the file exists in the build and, for ``page.html#anchor``, the
  page has an element with that id (an offline equivalent of Sphinx's ``linkcheck``);
* chapter pages offer their notebook for download, and the file is there.

The book is built as ``make book`` builds it, in both editions (``scripts/build_book.py``). The
Chinese edition's pages must resolve their links too, keep the English pages' anchors, link
to their English twin (and back), and hold Chinese text; three of them are opened in the
browser, and the Chinese search index must contain Chinese words.

Chromium comes from Debian's ``chromium`` package. When it is missing, the set-up installs it with
``apt-get`` (this needs root, as on CI). Where that is impossible, the tests are skipped with the
reason, except on CI (``CI`` set), where they fail instead. A font with Chinese glyphs (Debian's
``fonts-wqy-microhei``) is installed the same way when none is present, so that the glossary's
Chinese terms show in the screenshots.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.slow  # builds the book and starts a browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHINESE_FONT = "fonts-wqy-microhei"  # Debian's package; 1.6 MB
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Chromium reaches out to Google's services at start unless told not to; the machine has no
# network, so these flags keep the log free of refused connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _has_chinese_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    done = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True)
    return done.returncode == 0 and bool(done.stdout.strip())


def _apt_install(packages: list[str]) -> str | None:
    """Install Debian packages; return why not, or None when they were installed."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return "needs apt-get as root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        [apt, "-qq", "update"],
        [apt, "-qq", "install", "-y", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"`{' '.join(cmd)}` failed:\n{done.stderr[-2000:]}"
    return None


def _ensure_chromium() -> str:
    # The glossary pairs every term with its Chinese name. Without a font that has Chinese
    # glyphs they show as empty boxes in the screenshots, which a reader's browser would not,
    # so a small one is installed with Chromium (best effort: the checks do not need it).
    missing = [] if _has_chinese_font() else [CHINESE_FONT]
    if not Path(CHROMIUM).exists():
        why = _apt_install(["chromium", *missing])
        if why is not None:
            _unavailable(
                f"{CHROMIUM} is missing and cannot be installed here ({why}): "
                "install Debian's chromium package to run the browser test"
            )
    elif missing:
        _apt_install(missing)
    return CHROMIUM


def _toc_pages() -> list[str]:
    """The pages of ``_toc.yml`` as paths relative to the book root, without suffix."""
    files = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", (ROOT / "_toc.yml").read_text(), re.M)
    assert files, "no pages found in _toc.yml"
    return files


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """Both editions, as ``make book`` builds them: the Chinese one in ``zh_CN/``."""
    out = tmp_path_factory.mktemp("book")
    build = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--path-output", str(out)]
    done = subprocess.run(
        [*build, "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = done.stdout.splitlines()
        problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
        pytest.fail("the book does not build:\n" + "\n".join(problems or [done.stdout[-4000:]]))
    html_dir = out / "_build" / "html"
    assert (html_dir / "index.html").is_file()
    assert (html_dir / "zh_CN" / "index.html").is_file()
    return html_dir


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports failures itself
        pass


@pytest.fixture(scope="module")
def browser():
    executable = _ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra has playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


class _Anchors(html.parser.HTMLParser):
    """Collects the ids of a page and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


@functools.cache
def _parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


PAGES = _toc_pages()
# The Chinese edition: every page's links, and a few pages in the browser (the same templates
# as the English ones, so three show that fonts, maths and the language switch work).
ZH = "zh_CN/"
ZH_PAGES = [ZH + p for p in PAGES]
ZH_IN_BROWSER = [ZH + p for p in ("book/intro", "notebooks/01_attention", "book/glossary")]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("page_name", PAGES + ZH_IN_BROWSER)
def test_page_in_browser(page_name, built_book, server, browser):
    url = urljoin(server, page_name + ".html")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside, errors, failed = [], [], []

    def only_localhost(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_localhost)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url}: {response and response.status}"

        # Maths: wait until MathJax has typeset the page, then compare counts.
        n_math = page.locator(".math").count()
        if n_math:
            page.wait_for_function("() => window.MathJax && MathJax.startup", timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
            n_typeset = page.locator("mjx-container").count()
            assert n_typeset >= n_math, f"{page_name}: {n_typeset} of {n_math} formulas typeset"
        text = page.inner_text("main")
        raw = re.findall(r"\\[(\[]", text)
        assert not raw, f"{page_name}: raw TeX delimiters left in the text: {len(raw)}"
        # A Markdown table shown as text (a cell that displays Markdown, rendered without
        # table support) leaves its separator row behind.
        assert not re.search(r"\|\s*[-—]{1,3}\s*\|", text), f"{page_name}: a raw Markdown table"
        if page_name.startswith(ZH):
            # translated: most of the prose is Chinese (code and outputs stay English)
            assert len(CJK.findall(text)) > 300, f"{page_name}: little Chinese text"
            switch = page.locator("a.language-switch")
            assert switch.inner_text() == "English"

        # Figures: every image is loaded and has a size.
        images = page.evaluate(
            "() => Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])"
        )
        broken = [src for src, complete, width in images if not (complete and width > 0)]
        assert not broken, f"{page_name}: images that did not load: {broken}"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / (page_name.replace("/", "__") + ".png")
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
    finally:
        context.close()

    assert not errors, f"{page_name}: JavaScript errors: {errors}"
    assert not outside, f"{page_name}: the page tried to reach the network: {outside[:5]}"
    assert not failed, f"{page_name}: requests that failed: {failed[:5]}"


@pytest.mark.parametrize("page_name", PAGES + ZH_PAGES)
def test_internal_links_resolve(page_name, built_book):
    path = built_book / (page_name + ".html")
    broken = []
    for href in _parse(path).hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("mailto:"):
            continue  # external links: not followed offline
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href)
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in _parse(target).ids:
                broken.append(href)
    assert not broken, f"{page_name}: links that lead nowhere: {broken}"


@pytest.mark.parametrize("page_name", [p for p in PAGES if p.startswith("notebooks/")])
def test_chapter_offers_notebook_download(page_name, built_book):
    path = built_book / (page_name + ".html")
    name = Path(page_name).name + ".ipynb"
    downloads = [h for h in _parse(path).hrefs if h.endswith("_sources/notebooks/" + name)]
    assert downloads, f"{page_name}: no download link for {name}"
    assert (path.parent / downloads[0]).resolve().is_file()


@pytest.mark.parametrize("page_name", PAGES)
def test_both_editions_have_the_same_anchors_and_link_to_each_other(page_name, built_book):
    english, chinese = built_book / (page_name + ".html"), built_book / ZH / (page_name + ".html")
    assert _parse(english).ids == _parse(chinese).ids, f"{page_name}: anchors differ"
    for page, other in [(english, chinese), (chinese, english)]:
        switch = re.search(r'class="btn btn-sm language-switch" href="([^"]+)"', page.read_text())
        assert switch, f"{page}: no language switch"
        assert (page.parent / switch.group(1)).resolve() == other.resolve()


def test_chinese_search_index_holds_chinese_words(built_book):
    # Sphinx splits Chinese text into words with jieba; without it nothing Chinese is indexed
    import json

    index = (built_book / ZH / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1 : index.rindex(")")])["terms"]
    for word in ("注意力", "编码器", "残差", "微调"):
        assert word in terms, word
