"""Gunicorn's access log without secrets: the Lead Post token in the path is cut to its prefix."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(/leadpost/)([^/?\s]{6})[^/?\s]*")


def redact_path(path: str) -> str:
    return _TOKEN.sub(r"\1\2…", path)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_path(atoms[key])
        return atoms
