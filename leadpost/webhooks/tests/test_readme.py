"""The README's signature checks (Python and Node), run as a receiver would run them, against
deliveries signed by Leadpost's own `signature`: a README example that stopped matching the
scheme, or stopped refusing a tampered body or an old timestamp, fails here.

The README's example body is checked too: it must have the keys a real event's body has.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from leadpost.accounts.models import Account, User
from leadpost.webhooks.models import WebhookEvent, WebhookSubscription
from leadpost.webhooks.secrets import set_new_secret
from leadpost.webhooks.signing import new_secret, signature
from leadpost.webhooks.tasks import dispatch

README = Path(__file__).resolve().parents[3] / "README.md"
NODE = "/usr/bin/node"
SECRET = new_secret()
# Non-ASCII and a quote: the body is checked as the bytes sent, never re-encoded.
BODY = json.dumps(
    {"id": "evt_1", "type": "record.created", "data": {"firstName": 'José "Pepe"'}},
    ensure_ascii=False,
    separators=(",", ":"),
).encode()

Check = Callable[[str, str, bytes], bool]


def readme_block(first_line: str) -> str:
    """The README's fenced code block that starts with `first_line`."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"the README has {len(found)} blocks starting {first_line!r}"
    return found[0]


def python_check() -> Check:
    namespace: dict[str, object] = {}
    exec(readme_block("# Verifying a Leadpost webhook (Python"), namespace)
    check = namespace["leadpost_signature_ok"]
    assert callable(check)
    return lambda secret, header, body: bool(check(secret, header, body))


# The README's function, then a receiver's call of it on arguments passed as JSON (the body in
# base64, so its exact bytes reach Node); prints true or false.
NODE_HARNESS = """
const [secret, header, body64] = JSON.parse(process.argv[1]);
process.stdout.write(String(leadpostSignatureOk(secret, header, Buffer.from(body64, "base64"))));
"""


def node_check() -> Check:
    program = readme_block("// Verifying a Leadpost webhook (Node") + NODE_HARNESS

    def check(secret: str, header: str, body: bytes) -> bool:
        import base64

        arguments = json.dumps([secret, header, base64.b64encode(body).decode()])
        done = subprocess.run(
            [NODE, "-e", program, arguments], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout in ("true", "false"), done.stdout
        return done.stdout == "true"

    return check


@pytest.fixture(params=["python", "node"])
def check(request: pytest.FixtureRequest) -> Check:
    return python_check() if request.param == "python" else node_check()


def test_accepts_a_delivery_signed_now(check: Check) -> None:
    assert check(SECRET, signature(SECRET, int(time.time()), BODY), BODY)


def test_accepts_a_timestamp_a_little_off(check: Check) -> None:
    # Clocks of sender and receiver differ a little; the README allows five minutes.
    assert check(SECRET, signature(SECRET, int(time.time()) - 120, BODY), BODY)


def test_refuses_a_tampered_body(check: Check) -> None:
    header = signature(SECRET, int(time.time()), BODY)
    assert not check(SECRET, header, BODY.replace(b"Pepe", b"Pepa"))
    assert not check(SECRET, header, BODY + b" ")


def test_refuses_an_old_timestamp(check: Check) -> None:
    # A replay of a captured delivery: its signature is right, its time is not.
    old = int(time.time()) - 600
    assert not check(SECRET, signature(SECRET, old, BODY), BODY)


def test_refuses_another_secret_and_a_forged_time(check: Check) -> None:
    now = int(time.time())
    assert not check(new_secret(), signature(SECRET, now, BODY), BODY)
    # A new t with the old v1: the time is signed with the body.
    v1 = signature(SECRET, now - 600, BODY).split(",v1=")[1]
    assert not check(SECRET, f"t={now},v1={v1}", BODY)


def test_refuses_malformed_headers(check: Check) -> None:
    now = int(time.time())
    good = signature(SECRET, now, BODY)
    v1 = good.split(",v1=")[1]
    for header in ["", "garbage", f"v1={v1}", f"t={now}", f"t={now},t={now},v1={v1}", "t=,v1="]:
        assert not check(SECRET, header, BODY), header
    # Another (future) scheme beside v1 is ignored, and the order does not matter.
    assert check(SECRET, f"v0=abc,v1={v1},t={now}", BODY)


def test_the_readme_example_body_has_the_keys_of_a_real_one(
    post: Callable[..., object],
    agency: Account,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    subscription = WebhookSubscription(
        account=agency, url="https://crm.example.com/hooks", events=["record.created"]
    )
    set_new_secret(subscription)
    subscription.save()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        post(
            {
                "firstName": "Jane",
                "lastName": "Doe",
                "ssn": "212-55-1234",
                "servicingAgentFirstName": "Alice",
                "servicingAgentLastName": "Agent",
                "attachment_note_1_subject_text": "Call back",
                "attachment_note_1_body_text": "Prefers afternoon calls.",
            }
        )
    event = WebhookEvent.objects.get(type="record.created")
    dispatch(event.pk)
    event.refresh_from_db()
    real = json.loads(event.body)
    example = json.loads(readme_block('{\n  "id": "evt_'))

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value[:1]]
        return None

    assert shape(example) == shape(real)
    assert real["data"]["ssn"] == "***-**-1234"
    assert "212-55-1234" not in event.body and "212551234" not in event.body
