"""The built site as a reader meets it: no raw markup, no dead link, no constant's name for a value.

The site is built once (``mkdocs build --strict``) into a temporary directory. Then:

* no page shows a Sphinx role (``:class:`` ...) or a constant's name (``DEFAULT_...``) where a
  reader needs a value;
* every internal link and ``src`` of every page leads to a file of the site, and every
  ``#fragment`` to an element of that page;
* the reference shows values for defaults, whole unions, and no private base class;
* the 404 page works when the site is served from a folder (relative links under a ``<base>``);
* every reference in a docstring to a README section or a docs page section names one that exists.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kraken_prime_async"

#: What must never reach a reader: Sphinx roles and the names of default constants.
RAW = re.compile(r":(?:class|func|meth|attr|mod|data|exc):|\bDEFAULT_[A-Z_]+")


class _Page(HTMLParser):
    """The links and the element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        for name in ("href", "src"):
            value = found.get(name)
            if value and not (tag == "link" and found.get("rel") in ("canonical", "preconnect")):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("site")
    done = subprocess.run(  # noqa: S603 - mkdocs of our venv
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return built


def _pages(site: Path) -> list[Path]:
    return sorted(path for path in site.rglob("*.html") if path.name != "404.html")


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_no_page_shows_a_sphinx_role_or_a_constants_name(site: Path) -> None:
    found = {
        str(page.relative_to(site)): sorted(set(RAW.findall(_text(page))))
        for page in [*_pages(site), site / "404.html"]
    }
    assert {page: raw for page, raw in found.items() if raw} == {}


def _target(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    """The file and fragment an internal link leads to (``None`` for an external link)."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
        return None
    if not parts.path:
        return page, unquote(parts.fragment)
    path = (page.parent / unquote(parts.path)).resolve()
    if path.is_dir() or parts.path.endswith("/"):
        path = path / "index.html"
    return path, unquote(parts.fragment)


def test_every_internal_link_and_fragment_exists(site: Path) -> None:
    parsed: dict[Path, _Page] = {}
    dead: list[str] = []
    for page in _pages(site):
        for link in parsed.setdefault(page, _parse(page)).links:
            target = _target(site, page, link)
            if target is None:
                continue
            path, fragment = target
            where = f"{page.relative_to(site)}: {link}"
            if not path.is_file():
                dead.append(f"{where} (no {path.relative_to(site.resolve())})")
            elif fragment and path.suffix == ".html":
                ids = parsed.setdefault(path, _parse(path)).ids
                if fragment not in ids:
                    dead.append(f"{where} (no #{fragment})")
    assert dead == []


def test_the_reference_shows_values_whole_unions_and_no_private_bases(site: Path) -> None:
    text = " ".join(_text(site / "reference" / "prime-client" / "index.html").split())
    assert 'base_url: str = "https://api.kraken.com"' in text
    assert "max_in_flight: int = 8" in text
    assert "max_response_bytes: int = 4194304" in text
    tiers = r'Literal\[ ?"auto", "starter", "intermediate", "pro" ?\]'
    assert re.search(rf"rate_limit: {tiers} \| RateLimit \| None", text)
    assert 'secret_encoding: Literal["base64", "raw"]' in text
    assert "Bases: ClientBase" not in text and "Bases: Resource" not in text
    table = text[text.index("rate_limit Literal") :][:200]
    assert "RateLimit | None" in table  # the parameter table has the whole union too


def test_the_404_page_works_when_served_from_a_folder(site: Path) -> None:
    page = (site / "404.html").read_text(encoding="utf-8")
    links = _parse(site / "404.html").links
    assert links and not [link for link in links if link.startswith("/")]
    assert "<base href=" in page.split("</head>")[0]
    for link in links:
        target = _target(site, site / "404.html", link)
        if target is not None:
            assert target[0].is_file(), link


def _headings(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    fenced = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return {
        match.group(1).replace("`", "").strip()
        for match in re.finditer(r"^#{1,6} (.+)$", fenced, flags=re.MULTILINE)
    }


#: ``README, "Section"`` and ``docs/page.md``, "Section"`` (backticks optional).
README_SECTION = re.compile(r'README(?:\.md)?,\s+"([^"]+)"')
DOCS_SECTION = re.compile(r'`{0,2}(docs/[\w/-]+\.md)`{0,2}(?:,\s+"([^"]+)")?')


def test_docstring_references_name_pages_and_sections_that_exist() -> None:
    readme = _headings(ROOT / "README.md")
    missing: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = " ".join(path.read_text(encoding="utf-8").split())
        source = source.replace('" #: "', " ").replace(" #: ", " ").replace(" # ", " ")
        where = str(path.relative_to(ROOT))
        for section in README_SECTION.findall(source):
            if section not in readme:
                missing.append(f'{where}: README, "{section}"')
        for page, section in DOCS_SECTION.findall(source):
            if not (ROOT / page).is_file():
                missing.append(f"{where}: {page}")
            elif section and section not in _headings(ROOT / page):
                missing.append(f'{where}: {page}, "{section}"')
    assert missing == []
