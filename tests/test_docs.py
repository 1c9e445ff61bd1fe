"""The README and the guides in docs/: the generated detector table is current, no relative
link is broken (files and #fragments), the README stays short and links every guide."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = [README, *GUIDES, *sorted((ROOT / "benchmarks").glob("*.md"))]

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _make_docs():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "docs" / "make_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without_code(text: str) -> str:
    """``text`` without fenced code blocks and inline code (links there are not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation other than - and _ removed, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading counts by its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2, ... for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = anchor(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(without_code(path.read_text(encoding="utf-8"))) if not re.match(r"(?i)(https?:|mailto:)", t)]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def broken_links(path: Path) -> list[str]:
    """The relative links of ``path`` whose file does not exist or whose #fragment names no heading."""
    broken = []
    for target in relative_links(path):
        file, _, fragment = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {_shown(dest)})")
    return broken


def test_detector_table_is_current():
    make_docs = _make_docs()
    block = make_docs.detector_block((ROOT / "docs" / "detectors.md").read_text(encoding="utf-8"))
    assert block == make_docs.detector_table(), "docs/detectors.md's detector table is stale: run python docs/make_docs.py"


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_no_broken_relative_link(path):
    assert broken_links(path) == [], f"broken links in {path.relative_to(ROOT)}"


def test_readme_is_short_and_links_every_guide():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move detail into a guide in docs/"
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    assert GUIDES, "no guides in docs/"
    missing = [str(g.relative_to(ROOT)) for g in GUIDES if g.resolve() not in linked]
    assert missing == [], f"guides not linked from README.md: {missing}"


def test_each_guide_starts_with_a_title_and_a_link_back():
    for guide in GUIDES:
        first, _, rest = guide.read_text(encoding="utf-8").partition("\n")
        assert first.startswith("# "), f"{guide.name}: the first line must be its title"
        assert "](../README.md)" in rest.lstrip("\n").split("\n", 1)[0], f"{guide.name}: the line after the title must link back to the README"


def test_link_checker_sees_broken_links(tmp_path):
    (tmp_path / "b.md").write_text("# A heading, with `code`!\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#a-heading-with-code) [ok](b.md#twice-1) [ok](#here) [web](https://example.org/x)\n"
        "`[not a link](nowhere.md)`\n\n```\n[nor this](nowhere.md)\n```\n\n# Here\n"
        "[bad](missing.md) [bad](b.md#no-such-heading) [bad](#nowhere)\n"
    )
    assert broken_links(page) == [
        "missing.md (no such file)",
        "b.md#no-such-heading (no heading #no-such-heading in b.md)",
        "#nowhere (no heading #nowhere in a.md)",
    ]
