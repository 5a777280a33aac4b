"""The documentation's own tooling: block extraction, the CLI page generator, the role cleaner."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from .markdown_blocks import DOCS, defined_tests, extract_blocks, page_blocks, pages

ROOT = DOCS.parent


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load(ROOT / "scripts" / "gen_cli_docs.py")


PAGE = """# Title

```python
a = 1
```

<!-- no-test -->

```python
serve_forever()
```

<!-- no-test -->
Some words in between.

```py
b = 2
```

- a list item:

    ```python
    c = 3
    ```

```bash
echo not python
```

~~~~python
d = "```"
~~~~
"""


def test_extract_blocks_finds_python_fences_with_their_lines_and_markers() -> None:
    blocks = extract_blocks(PAGE, Path("page.md"))
    assert [(b.line, b.code, b.skipped) for b in blocks] == [
        (4, "a = 1\n", False),
        (10, "serve_forever()\n", True),
        (17, "b = 2\n", False),  # the marker only applies to the block right after it
        (23, "c = 3\n", False),
        (31, 'd = "```"\n', False),
    ]


def test_padded_code_reports_the_page_line_numbers() -> None:
    block = extract_blocks(PAGE, Path("page.md"))[2]
    with pytest.raises(NameError) as caught:
        exec(compile(block.padded() + "undefined_name\n", "page.md", "exec"), {})  # noqa: S102
    tb = caught.value.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    assert tb is not None and tb.tb_lineno == block.line + 1  # the line after the block's code


def test_pytest_examples_are_recognised() -> None:
    blocks = extract_blocks(
        "```python\nimport pytest\n\nasync def test_a(nemo_client):\n    pass\n\n"
        "def helper():\n    pass\n```\n",
        Path("p.md"),
    )
    assert defined_tests(blocks[0]) == ["test_a"]


def test_every_page_is_in_the_navigation_and_has_a_title() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in pages():
        name = page.relative_to(DOCS).as_posix()
        assert name in config, f"{name} is not in mkdocs.yml's nav"
        first = page.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("# ") or first.startswith("--8<--"), name


def test_the_guides_have_runnable_examples() -> None:
    for page in sorted((DOCS / "guides").glob("*.md")):
        assert any(not block.skipped for block in page_blocks(page)), page.name


TOP_HELP = """usage: nemovideo [-h] COMMAND ...

positional arguments:
  COMMAND
    animate             turn one image into an animated MP4
    chat                talk with the agent (type exit or quit to
                        leave)
    sandbox             run a local NemoVideo sandbox

options:
  -h, --help            show this help message and exit
"""


def test_command_names_from_a_metavar_list(gen: ModuleType) -> None:
    assert gen.command_names(TOP_HELP) == ["animate", "chat", "sandbox"]


def test_command_names_from_a_choices_line(gen: ModuleType) -> None:
    text = "usage: x\n\npositional arguments:\n  {animate,batch}\n    animate  one\n"
    assert gen.command_names(text) == ["animate", "batch"]


def test_the_reference_is_the_cli_help_of_every_command(gen: ModuleType) -> None:
    text = gen.cli_reference()
    for name in ("animate", "batch", "chat", "status", "credits", "export", "resume", "auth",
                 "enqueue", "worker", "sandbox"):  # fmt: skip
        assert f"## `nemovideo {name}`" in text
        assert f"usage: nemovideo {name}" in text
    assert "exit codes" in text
    assert all(len(line) <= gen.WIDTH for line in text.splitlines())


def test_the_hook_replaces_only_the_marker(
    gen: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gen, "cli_reference", lambda: "GENERATED\n")
    assert gen.on_page_markdown("intro\n\n<!-- cli-help -->\n") == "intro\n\nGENERATED\n\n"
    assert gen.on_page_markdown("no marker here") == "no marker here"


def test_a_missing_cli_gives_a_note_not_a_failed_build(
    gen: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> None:
        raise gen.CliUnavailableError("nemovideo.cli has no main() yet")

    monkeypatch.setattr(gen, "_load_main", missing)
    page = gen.on_page_markdown("<!-- cli-help -->")
    assert page.startswith("!!! warning")
    assert "nemovideo.cli has no main() yet" in page
    assert gen.main([]) == 1
    assert "no main() yet" in capsys.readouterr().err


def test_a_failing_help_is_reported(gen: ModuleType) -> None:
    def broken(argv: object) -> int:
        print("boom", end="")
        return 2

    with pytest.raises(gen.CliUnavailableError, match="exited with 2"):
        gen.capture_help(broken, ["animate"])


def test_the_script_writes_the_page(gen: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    assert gen.main(["-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("## `nemovideo`")


DOCSTRING = """Summary with :class:`~nemovideo.Draft` and :func:`nemovideo.route`.

Example::

    >>> value = compute()  # doctest: +SKIP
    >>> value
    3

Commands::

    nemovideo animate IMAGE

==== =============
0    worked
130  interrupted
==== =============

Example:
    >>> run()  # doctest: +SKIP
"""


def test_docstrings_read_as_markdown() -> None:
    readable = load(DOCS / "_hooks" / "griffe_docstrings.py").readable
    assert readable(DOCSTRING).splitlines() == [
        "Summary with `Draft` and `nemovideo.route`.",
        "",
        "Example:",
        "",
        "```pycon",
        ">>> value = compute()",
        ">>> value",
        "3",
        "```",
        "",
        "Commands:",
        "",
        "```text",
        "nemovideo animate IMAGE",
        "```",
        "",
        "```text",
        "0    worked",
        "130  interrupted",
        "```",
        "",
        "Examples:",
        "    >>> run()",
    ]


def test_the_reference_reads_folders_without_an_init_module() -> None:
    import griffe

    extension = load(DOCS / "_hooks" / "griffe_namespaces.py").NamespaceSubpackages()
    package = griffe.load(
        "nemovideo",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions(extension),
        docstring_parser="google",
    )
    config = package["ClientConfig"]  # exported from nemovideo/transport/config.py
    assert config.final_target.path == "nemovideo.transport.config.ClientConfig"
    assert "Everything a `NemoClient` runs with" in config.final_target.docstring.value
