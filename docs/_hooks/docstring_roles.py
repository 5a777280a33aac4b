"""MkDocs hook: show the Sphinx roles some docstrings use (``:class:`Draft```) as plain code.

mkdocstrings renders Google-style docstrings as Markdown, where a role stays visible as text
(":class:" before the name). This turns ``:class:`~nemovideo.Draft``` into ``Draft`` and
``:func:`nemovideo.route``` into ``nemovideo.route``, as Sphinx would show them.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["on_page_content", "strip_roles"]

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj|const):<code>(~?)([^<]+)</code>")


def _shown(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def strip_roles(html: str) -> str:
    """The page's HTML with every rendered Sphinx role reduced to its code."""
    return _ROLE.sub(_shown, html)


def on_page_content(html: str, **_: Any) -> str:
    """MkDocs hook: clean the roles once the page is rendered."""
    return strip_roles(html)
