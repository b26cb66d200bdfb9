"""Logging: readable lines for people, or one JSON object per line carrying the order id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any


def order_id_of(record: logging.LogRecord) -> str | None:
    """The order a log record is about: explicit ``order_id`` extra, or the workflow's id."""
    explicit = getattr(record, "order_id", None)
    if explicit:
        return str(explicit)
    for key in ("temporal_workflow", "temporal_activity"):
        info: Any = getattr(record, key, None)
        if isinstance(info, dict):
            workflow_id = info.get("workflow_id")
            if isinstance(workflow_id, str) and workflow_id.startswith("order-"):
                return workflow_id.removeprefix("order-")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, order_id (when known)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = order_id_of(record)
        if order_id:
            entry["order_id"] = order_id
        for key in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, key, None)
            if isinstance(info, dict):
                entry["workflow_id"] = info.get("workflow_id")
                entry["run_id"] = info.get("run_id")
                if key == "temporal_activity":
                    entry["activity"] = info.get("activity_type")
                    entry["attempt"] = info.get("attempt")
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Configure the root logger once for a command."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Our messages already name the order; the SDK's appended context dict is noise here.
    from temporalio import workflow

    workflow.logger.workflow_info_on_message = False
