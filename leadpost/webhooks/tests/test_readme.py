"""The signature checks a receiver is given (`leadpost.webhooks.snippets`: the webhook's page shows
them, the README must hold them verbatim), run as a receiver would run them — Python by exec, Node
by /usr/bin/node — against headers made by Leadpost's own `signature`: an example that stopped
matching the scheme, or stopped refusing a tampered body, an old timestamp, another secret or a
malformed header, fails here. The core's `verify` must give the same answers.

The README's example body is checked too: it must have the keys a real event's body has.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from leadpost.accounts.models import Account, User
from leadpost.webhooks import snippets
from leadpost.webhooks.models import WebhookEvent
from leadpost.webhooks.signing import new_secret, signature, verify
from leadpost.webhooks.tasks import dispatch
from leadpost.webhooks.tests.conftest import subscribe

README = Path(__file__).resolve().parents[3] / "README.md"
NODE = "/usr/bin/node"
SECRET = new_secret()
# Non-ASCII and a quote: the body is checked as the bytes sent, never re-encoded.
BODY = json.dumps(
    {"id": "evt_1", "type": "record.created", "data": {"firstName": 'José "Pepe"'}},
    ensure_ascii=False,
    separators=(",", ":"),
).encode()


def test_the_readme_holds_the_pages_examples_verbatim() -> None:
    readme = README.read_text()
    assert readme.count("```python\n" + snippets.PYTHON + "```\n") == 1
    assert readme.count("```js\n" + snippets.NODE + "```\n") == 1


def python_check(header: str, body: bytes) -> bool:
    answer = snippets.python_check()(SECRET, header, body)
    assert isinstance(answer, bool)
    return answer


# The example, then a receiver's call of it on arguments passed as JSON (the body in base64, so
# its exact bytes reach Node); prints true or false.
NODE_HARNESS = """
const [secret, header, body64] = JSON.parse(process.argv[1]);
process.stdout.write(String(verifyLeadpostSignature(secret, header, Buffer.from(body64, "base64"))));
"""


def node_check(header: str, body: bytes) -> bool:
    arguments = json.dumps([SECRET, header, base64.b64encode(body).decode()])
    done = subprocess.run(
        [NODE, "-e", snippets.NODE + NODE_HARNESS, arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout in ("true", "false"), done.stdout
    return done.stdout == "true"


def v1_of(header: str) -> str:
    return header.split(",v1=")[1]


Header = Callable[[int], str]  # the header, made at time `now`
CASES: list[tuple[str, Header, bytes, bool]] = [
    ("signed now", lambda now: signature(SECRET, now, BODY), BODY, True),
    # Clocks of sender and receiver differ a little; five minutes are allowed.
    ("a little off", lambda now: signature(SECRET, now - 120, BODY), BODY, True),
    (
        "tampered body",
        lambda now: signature(SECRET, now, BODY),
        BODY.replace(b"Pepe", b"Pepa"),
        False,
    ),
    ("a byte added", lambda now: signature(SECRET, now, BODY), BODY + b" ", False),
    # A replay of a captured delivery: its signature is right, its time is not.
    ("old timestamp", lambda now: signature(SECRET, now - 301, BODY), BODY, False),
    ("older timestamp", lambda now: signature(SECRET, now - 600, BODY), BODY, False),
    # Far enough ahead that the seconds the check takes to start cannot bring it within 5 min.
    ("future timestamp", lambda now: signature(SECRET, now + 600, BODY), BODY, False),
    ("other secret", lambda now: signature(new_secret(), now, BODY), BODY, False),
    # A new t with an old v1: the time is signed with the body.
    (
        "forged time",
        lambda now: f"t={now},v1={v1_of(signature(SECRET, now - 600, BODY))}",
        BODY,
        False,
    ),
    ("empty", lambda now: "", BODY, False),
    ("garbage", lambda now: "garbage", BODY, False),
    ("no t", lambda now: f"v1={v1_of(signature(SECRET, now, BODY))}", BODY, False),
    ("no v1", lambda now: f"t={now}", BODY, False),
    ("empty values", lambda now: "t=,v1=", BODY, False),
    ("t not a number", lambda now: "t=abc,v1=\u00e9\u00e9", BODY, False),
    ("v1 not hex", lambda now: f"t={now},v1=\u00e9\u00e9", BODY, False),
    (
        "t in non-ASCII digits",
        lambda now: (
            f"t={''.join(chr(0x0660 + int(d)) for d in str(now))},"
            f"v1={v1_of(signature(SECRET, now, BODY))}"
        ),
        BODY,
        False,
    ),
    (
        "two t",
        lambda now: f"t={now},t={now},v1={v1_of(signature(SECRET, now, BODY))}",
        BODY,
        False,
    ),
    (
        "second v1 matches",
        lambda now: f"t={now},v1={'0' * 64},v1={v1_of(signature(SECRET, now, BODY))}",
        BODY,
        True,
    ),
    # Another (future) scheme beside v1 is ignored, and the order does not matter.
    (
        "other scheme, any order",
        lambda now: f"v0=abc,v1={v1_of(signature(SECRET, now, BODY))},t={now}",
        BODY,
        True,
    ),
]


@pytest.mark.parametrize(("name", "header", "body", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_the_examples_accept_a_signed_body_and_refuse_the_rest(
    name: str, header: Header, body: bytes, accepted: bool
) -> None:
    value = header(int(time.time()))
    assert python_check(value, body) is accepted
    assert node_check(value, body) is accepted
    assert verify(SECRET, value, body, now=int(time.time())) is accepted  # and the core agrees


def readme_block(first_line: str) -> str:
    """The README's fenced code block that starts with `first_line`."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"the README has {len(found)} blocks starting {first_line!r}"
    return found[0]


def test_the_readme_example_body_has_the_keys_of_a_real_one(
    post: Callable[..., object],
    agency: Account,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    subscribe(agency, "https://crm.example.com/hooks", ["record.created"])
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
