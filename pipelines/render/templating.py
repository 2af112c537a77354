"""The Jinja2 environment for the scorecard templates in ``scorecard_templates/``.

Templates live with the rule data (not in the package) so a partnership can restyle its
scorecard without touching Python; ``pipelines.resources`` finds them in a checkout or a wheel.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined


@lru_cache(maxsize=4)
def _environment(folder: str, autoescape: bool) -> Environment:
    # StrictUndefined: a typo in a template fails the build instead of silently printing nothing.
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def environment(*, autoescape: bool) -> Environment:
    from pipelines.resources import templates_dir

    return _environment(str(Path(templates_dir())), autoescape)


def render(name: str, *, autoescape: bool, **context: object) -> str:
    return environment(autoescape=autoescape).get_template(name).render(**context)
