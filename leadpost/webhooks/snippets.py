"""How a receiver checks a delivery's `Leadpost-Signature` (SPEC §12): the examples the webhook's
page and the README show. They are one text here; `tests/test_readme.py` checks the README holds
them verbatim and runs both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PYTHON = '''\
# Verifying a Leadpost webhook (Python 3, standard library only)
import hashlib
import hmac
import time


def verify_leadpost_signature(
    secret: str, header: str, raw_body: bytes, tolerance: int = 300
) -> bool:
    """True when the Leadpost-Signature header signs the raw body (bytes, as received: not
    parsed and dumped again) with the webhook's secret (whsec_...), at most `tolerance` seconds ago."""
    items = [part.split("=", 1) for part in (header or "").split(",") if "=" in part]
    stamps = [value.strip() for key, value in items if key.strip() == "t"]
    # Exactly one timestamp, of ASCII digits.
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    # An old timestamp is a replayed delivery: refuse it.
    if abs(time.time() - int(stamps[0])) > tolerance:
        return False
    signed = stamps[0].encode() + b"." + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    # Any v1 that matches will do (one is sent today), compared in constant time.
    return any(
        key.strip() == "v1" and hmac.compare_digest(value.strip().encode(), expected)
        for key, value in items
    )


# Flask, for example:
#   if not verify_leadpost_signature(SECRET, request.headers.get("Leadpost-Signature", ""),
#                                    request.get_data()):
#       abort(400)
#   event = request.get_json()  # de-duplicate by event["id"] (delivery is at least once)
'''

NODE = """\
// Verifying a Leadpost webhook (Node.js 18+, no packages)
const crypto = require("node:crypto");

// True when the Leadpost-Signature header signs the raw body (a Buffer, as received: not parsed
// and stringified again) with the webhook's secret (whsec_...), at most `toleranceSeconds` ago.
function verifyLeadpostSignature(secret, header, rawBody, toleranceSeconds = 300) {
  const items = String(header || "").split(",").filter((part) => part.includes("=")).map((part) => {
    const at = part.indexOf("=");
    return [part.slice(0, at).trim(), part.slice(at + 1).trim()];
  });
  const stamps = items.filter(([key]) => key === "t").map(([, value]) => value);
  // Exactly one timestamp, of ASCII digits.
  if (stamps.length !== 1 || !/^[0-9]+$/.test(stamps[0])) return false;
  // An old timestamp is a replayed delivery: refuse it.
  if (Math.abs(Date.now() / 1000 - Number(stamps[0])) > toleranceSeconds) return false;
  const expected = crypto.createHmac("sha256", secret)
    .update(`${stamps[0]}.`).update(rawBody).digest();
  // Any v1 that matches will do (one is sent today), compared in constant time.
  return items.some(([key, value]) => key === "v1" && /^[0-9a-f]{64}$/.test(value)
    && crypto.timingSafeEqual(Buffer.from(value, "hex"), expected));
}

// Express, for example:
//   app.post("/hooks/leadpost", express.raw({ type: "application/json" }), (req, res) => {
//     if (!verifyLeadpostSignature(SECRET, req.get("Leadpost-Signature"), req.body)) {
//       return res.sendStatus(400);
//     }
//     const event = JSON.parse(req.body); // de-duplicate by event.id (delivery is at least once)
//     res.sendStatus(200);
//   });
"""


def python_check() -> Callable[[str, str, bytes], bool]:
    """`PYTHON`'s function, from the text itself (as a receiver pastes it): what the test
    receivers and `devreceiver` check signatures with."""
    namespace: dict[str, Any] = {}
    exec(compile(PYTHON, "leadpost.webhooks.snippets.PYTHON", "exec"), namespace)  # noqa: S102
    check: Callable[[str, str, bytes], bool] = namespace["verify_leadpost_signature"]
    return check
