"""gunicorn's access log with the Lead Post token cut to its prefix, for the gunicorn variants of
bench/slow_clients.py: the same as leadpost/lib/gunicorn_logging.py (which `leadpost serve` used
with gunicorn), kept here so that those variants still run once the app no longer ships it."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"(/leadpost/)([^/?\s]{6})[^/?\s]*")


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q"):
            if isinstance(atoms.get(key), str):
                atoms[key] = _TOKEN.sub(r"\1\2…", atoms[key])
        return atoms
