"""How a receiver checks a delivery's `Leadpost-Signature` (SPEC §12): the examples the webhook's
page and the README show. They are one text here, and tests run both (webhooks/tests)."""

from __future__ import annotations

PYTHON = '''\
import hashlib
import hmac
import time


def verify_leadpost_signature(secret: str, header: str, raw_body: bytes, tolerance: int = 300) -> bool:
    """True when the Leadpost-Signature header signs the raw body (bytes, as received: not
    parsed and dumped again) with the webhook's secret, at most `tolerance` seconds ago."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    # An old timestamp is a replayed delivery: refuse it.
    if timestamp is None or abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), b"%d." % timestamp + raw_body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures)


# Flask, for example:
#   if not verify_leadpost_signature(SECRET, request.headers.get("Leadpost-Signature", ""),
#                                    request.get_data()):
#       abort(400)
#   event = request.get_json()  # de-duplicate by event["id"] (delivery is at least once)
'''

NODE = """\
const crypto = require("crypto");

// True when the Leadpost-Signature header signs the raw body (a Buffer, as received: not parsed
// and stringified again) with the webhook's secret, at most `toleranceSeconds` ago.
function verifyLeadpostSignature(secret, header, rawBody, toleranceSeconds = 300) {
  let timestamp = null;
  const signatures = [];
  for (const part of String(header || "").split(",")) {
    const [key, ...rest] = part.trim().split("=");
    const value = rest.join("=");
    if (key === "t" && /^[0-9]+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") signatures.push(value);
  }
  // An old timestamp is a replayed delivery: refuse it.
  if (timestamp === null || Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds) {
    return false;
  }
  const expected = Buffer.from(
    crypto
      .createHmac("sha256", secret)
      .update(Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(rawBody)]))
      .digest("hex"),
  );
  return signatures.some((s) => {
    const given = Buffer.from(s);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
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
