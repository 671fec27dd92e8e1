"""The 404 page with links that work wherever the site is served from.

mkdocs writes ``404.html`` with absolute links under ``site_url``'s path
(``/kraken-prime-async/assets/...``), because it is served for missing pages at any depth. Served
from a folder (``python -m http.server -d site``, or opened as a file) those links lead nowhere
and the page is unstyled. This hook makes them relative to a ``<base>`` chosen in the browser:
``site_url``'s path when the page is served under it (the published site, at any depth), else the
page's own folder.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

_BASE = (
    "<script>(function(){{var p={prefix};"
    'var b=location.pathname.indexOf(p)===0?p:"./";'
    "document.write('<base href=\"'+b+'\">')}})()</script>"
)


def on_post_template(output_content: str, template_name: str, config: Any) -> str:
    """Rewrite ``404.html``: relative links under a ``<base>`` set before any of them."""
    if template_name != "404.html":
        return output_content
    prefix = urlsplit(config.get("site_url") or "").path or "/"
    if not prefix.endswith("/"):
        prefix += "/"
    if prefix == "/":
        return output_content  # served at a host's root: absolute links work from a folder too
    page = output_content.replace(f'"{prefix}', '"')
    page = page.replace(f'"base": "{prefix.rstrip("/")}"', '"base": "."')
    page = page.replace('href="."', 'href="./"')
    script = _BASE.format(prefix=json.dumps(prefix))
    return page.replace("<head>", "<head>" + script, 1)
