"""The docs agree with the code: every setting in the README, every periodic task
in ARCHITECTURE.md, and no link out of the repository."""

import re
from pathlib import Path

from django.conf import settings

from workers.schedules import PERIODIC_TASKS

ROOT = Path(settings.BASE_DIR)
_ENV_READ = re.compile(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"')
_LINK_OUT = re.compile(r"\]\((?:https?:)?//(?!127\.0\.0\.1|localhost)")


def test_readme__configuration_table_lists_every_setting_read_from_the_environment():
    names = set(_ENV_READ.findall((ROOT / "hub" / "settings.py").read_text()))
    readme = (ROOT / "README.md").read_text()

    assert names, "no env reads found: the pattern no longer fits settings.py"
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


def test_architecture__lists_every_periodic_task():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()

    assert [s.name for s in PERIODIC_TASKS if f"| {s.name} |" not in text] == []


def test_docs__no_link_points_outside_the_repository():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages += sorted((ROOT / "clients").rglob("README.md"))
    pages += sorted((ROOT / "examples").rglob("README.md"))
    # Tools' caches (.pytest_cache/README.md) are not the project's pages.
    hidden = [p for p in pages if any(s[0] == "." for s in p.relative_to(ROOT).parts)]
    pages = [p for p in pages if p not in hidden]

    assert [p.name for p in pages if _LINK_OUT.search(p.read_text())] == []
