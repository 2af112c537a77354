"""Keep other libraries' chatter out of our logs: task logs and the command line's stderr show
what the scorecard did, not Great Expectations registering its functions or Alembic describing
its context. Their warnings and errors still show."""

from __future__ import annotations

import logging

NOISY = ("great_expectations", "alembic", "matplotlib", "PIL")


def quiet_third_party() -> None:
    """Raise the noisy libraries' loggers to WARNING: call it before the library is imported (some
    log while importing) and again after (some set their own modules' loggers to INFO then)."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(tuple(f"{n}." for n in NOISY)):
            if logger.level and logger.level < logging.WARNING:
                logger.setLevel(logging.WARNING)
