"""Where the rule data lives: definitions, expectations, SQL and templates.

In a checkout (editable install) they are the top-level folders of the repository, so an
analyst edits them in place; a wheel carries copies under ``pipelines/_bundled``.
``SCORECARD_RESOURCES`` points elsewhere (for example a partnership's own rule set, which
then also holds the migrations for the sources it adds: ``<rules>/migrations/``). Everything
read from these folders is cached per folder, so changing ``SCORECARD_RESOURCES`` is followed.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_root() -> Path:
    """The project's own rules: the checkout's top-level folders, or the wheel's copies."""
    checkout = _PACKAGE.parent
    if (checkout / "definitions").is_dir() and (checkout / "sql").is_dir():
        return checkout
    return _PACKAGE / "_bundled"


def resource_root() -> Path:
    override = os.environ.get("SCORECARD_RESOURCES")
    if override:
        return Path(override)
    return project_root()


def own_rules_folder() -> Path | None:
    """A partnership's own rules folder (``SCORECARD_RESOURCES`` naming a folder other than the
    project's), or None when the project's rules are in use."""
    root = resource_root()
    if root.resolve() == project_root().resolve():
        return None
    return root


def definitions_dir() -> Path:
    return resource_root() / "definitions"


def expectations_dir() -> Path:
    return resource_root() / "expectations"


def sql_dir() -> Path:
    return resource_root() / "sql"


def templates_dir() -> Path:
    return resource_root() / "scorecard_templates"
