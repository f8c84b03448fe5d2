"""Logging set-up: one line per event, as text for people or JSON for log pipelines.

Secrets never reach a log line: the only secret we hold is the database password, and every place
that prints a database URL prints ``redact_url(url)`` (rendered from the parsed URL, password
hidden); ``RedactingFilter`` is a second fence that masks the password itself, in each of its
spellings (``url_secrets``), wherever it slips into a message or a traceback anyway.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from service.settings import redact_text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = redact_text(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            event["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: str = "INFO", *, secrets: tuple[str, ...] = ()) -> None:
    """Route every logger to stderr in ``fmt`` ("text" or "json"), ``secrets`` masked; quiet the
    chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
