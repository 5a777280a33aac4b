"""Griffe extension: read sub-folders of a package that have no ``__init__.py``.

Python imports ``nemovideo.transport.config`` even though ``nemovideo/transport/`` has no
``__init__.py`` (an implicit namespace package inside a regular one), but Griffe, which
mkdocstrings uses to read the source, deliberately skips such folders. Without this extension
the reference could not show ``ClientConfig``, ``Timeouts``, ``Attribution`` or ``RetryPolicy``,
nor resolve ``nemovideo.ClientConfig``. Once the folder gets an ``__init__.py`` this does
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe

__all__ = ["NamespaceSubpackages"]


def _regular_packages(module: griffe.Module) -> Iterator[tuple[griffe.Module, Path]]:
    """The package and its sub-packages that have an ``__init__.py``, with their folders."""
    path = module.filepath
    if isinstance(path, Path) and path.stem == "__init__":
        yield module, path.parent
        for member in list(module.members.values()):
            if not member.is_alias and isinstance(member, griffe.Module):
                yield from _regular_packages(member)


def _missing_folders(package: griffe.Module, folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir()):
        if (
            child.is_dir()
            and child.name.isidentifier()
            and child.name not in package.members
            and not (child / "__init__.py").exists()
            and any(child.glob("*.py"))
        ):
            yield child


class NamespaceSubpackages(griffe.Extension):
    """Adds each ``__init__``-less sub-folder of a loaded package as a namespace sub-package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **_: Any) -> None:
        """Visit the modules Griffe skipped, once the package is loaded."""
        for package, folder in list(_regular_packages(pkg)):
            for child in _missing_folders(package, folder):
                namespace = griffe.Module(child.name, filepath=[child], parent=package)
                package.set_member(child.name, namespace)
                for source in sorted(child.glob("*.py")):
                    module = griffe.visit(
                        source.stem,
                        source,
                        source.read_text(encoding="utf-8"),
                        parent=namespace,
                        extensions=loader.extensions,
                        docstring_parser=loader.docstring_parser,
                        docstring_options=loader.docstring_options,
                        lines_collection=loader.lines_collection,
                        modules_collection=loader.modules_collection,
                    )
                    namespace.set_member(source.stem, module)
