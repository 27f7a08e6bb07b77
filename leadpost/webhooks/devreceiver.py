"""A webhook receiver for trying Leadpost on one machine (README, "Trying it on one machine"):
`python -m leadpost.webhooks.devreceiver --port 9000 --secret whsec_...` prints each event it
gets, with whether its signature holds (checked by the README's own example), and answers 200.

`--answer 503` makes it answer that instead, to watch retries. Development only: it listens on
127.0.0.1, and a Leadpost reaches it only with LEADPOST_FETCH_ALLOW_LOOPBACK=1 (development).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leadpost.webhooks import snippets

verify = snippets.python_check()


def handler(secret: str, status: int) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = verify(secret, self.headers.get("Leadpost-Signature", ""), body)
            try:
                event = json.loads(body)
                data = event.get("data") or {}
                what = f"{event.get('type')} {event.get('id')} record {data.get('id')}"
                agent = data.get("servicingAgent") or {}
                if agent:
                    what += f" (agent {agent.get('firstName')} {agent.get('lastName')})"
            except (ValueError, AttributeError):
                what = f"{len(body)} bytes that are not a JSON event"
            print(
                f"{self.log_date_time_string()}  {'signed' if ok else 'BAD SIGNATURE'}  {what}"
                f"  -> {status}",
                flush=True,
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Receiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadpost.webhooks.devreceiver")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--secret", default="", help="the webhook's secret, shown once when it was made"
    )
    parser.add_argument("--answer", type=int, default=200, help="the status to answer")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("give the webhook's secret: --secret whsec_... (shown once when it was made)")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.secret, args.answer))
    print(f"receiving webhooks on http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
