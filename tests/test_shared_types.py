"""One definition of each shared type: the apps import it, they do not copy it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "tests", "staticfiles", "media", "node_modules"}


def project_sources() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIP & set(path.relative_to(ROOT).parts)]


def test_the_htmx_request_type_is_defined_once_and_imported_everywhere() -> None:
    defined = [
        str(path.relative_to(ROOT))
        for path in project_sources()
        if re.search(r"^class HtmxHttpRequest\b", path.read_text(), re.M)
    ]
    assert defined == ["studio/typing.py"]

    import api.views
    import review.views
    import videos.views
    from studio.typing import HtmxHttpRequest

    for views in (api.views, review.views, videos.views):
        assert views.HtmxHttpRequest is HtmxHttpRequest, views.__name__
