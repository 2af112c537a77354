"""Where the rule data lives: definitions, expectations, SQL and templates.

In a checkout (editable install) they are the top-level folders of the repository, so an
analyst edits them in place; a wheel carries copies under ``pipelines/_bundled``.
``SCORECARD_RESOURCES`` points elsewhere (for example a partnership's own rule set).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_root() -> Path:
    override = os.environ.get("SCORECARD_RESOURCES")
    if override:
        return Path(override)
    checkout = _PACKAGE.parent
    if (checkout / "definitions").is_dir() and (checkout / "sql").is_dir():
        return checkout
    return _PACKAGE / "_bundled"


def definitions_dir() -> Path:
    return resource_root() / "definitions"


def expectations_dir() -> Path:
    return resource_root() / "expectations"


def sql_dir() -> Path:
    return resource_root() / "sql"


def templates_dir() -> Path:
    return resource_root() / "scorecard_templates"
