"""The log records one logger emits during a block, for tests that assert what was logged.

The handler is attached to the named logger itself: an app under test may replace the root
logger's handlers (and with them pytest's ``caplog``).
"""

from __future__ import annotations

import logging


class Records(logging.Handler):
    """``with Records("nodes.bus") as records:`` — *records* fills with that logger's records."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(name)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> list[logging.LogRecord]:
        self.logger.addHandler(self)
        return self.records

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
