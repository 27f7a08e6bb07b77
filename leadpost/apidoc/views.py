"""The OpenAPI document (for programs) and its page (for people), readable without a token."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from leadpost.apidoc.document import build_document

METHODS = ("get", "post", "put", "patch", "delete")


# CSRF-exempt so that another method is answered the 405 of require_GET, not the CSRF page's
# 403: these views read nothing of the request but its method.
@csrf_exempt
@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(build_document(), json_dumps_params={"indent": 1})


@dataclass
class Row:
    """One property or parameter of the page's tables."""

    name: str
    where: str
    required: bool
    schema: str
    description: str


@dataclass
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    auth: str
    parameters: list[Row] = field(default_factory=list)
    body: str = ""
    body_ref: str = ""
    responses: list[Row] = field(default_factory=list)


def _schema_text(schema: Any) -> str:
    """A schema in a few words: `Record`, `string or null`, `array of Problem`, ..."""
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for combiner in ("oneOf", "anyOf"):
        if combiner in schema:
            return " or ".join(_schema_text(s) for s in schema[combiner])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for one in kinds:
        if one == "array":
            words.append(f"array of {_schema_text(schema.get('items', {}))}")
        elif one == "object" and isinstance(schema.get("additionalProperties"), dict):
            words.append(f"object of {_schema_text(schema['additionalProperties'])}")
        else:
            words.append(str(one))
    text = " or ".join(words)
    if "format" in schema:
        text += f" ({schema['format']})"
    return text


def _rows(schema: dict[str, Any]) -> list[Row]:
    required = set(schema.get("required", []))
    rows = [
        Row(name, "", name in required, _schema_text(sub), sub.get("description", ""))
        for name, sub in schema.get("properties", {}).items()
    ]
    for pattern, sub in schema.get("patternProperties", {}).items():
        rows.append(Row(pattern, "pattern", False, _schema_text(sub), sub.get("description", "")))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and schema.get("properties"):
        rows.append(
            Row("(any other)", "", False, _schema_text(extra), extra.get("description", ""))
        )
    return rows


def _operations(document: dict[str, Any]) -> list[Operation]:
    operations = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            auth = "Bearer API token" if op.get("security") else "none"
            entry = Operation(
                method=method.upper(),
                path=path,
                anchor=op["operationId"],
                summary=op.get("summary", ""),
                description=op.get("description", ""),
                auth=auth,
            )
            for parameter in op.get("parameters", []):
                entry.parameters.append(
                    Row(
                        parameter["name"],
                        parameter["in"],
                        parameter.get("required", False),
                        _schema_text(parameter["schema"]),
                        parameter.get("description", ""),
                    )
                )
            if "requestBody" in op:
                body = op["requestBody"]
                media, content = next(iter(body["content"].items()))
                entry.body = f"{media}: {body.get('description', '')}"
                entry.body_ref = _schema_text(content["schema"])
            for status, answer in op["responses"].items():
                kinds = ", ".join(
                    f"{media} {_schema_text(c.get('schema', {}))}"
                    for media, c in answer.get("content", {}).items()
                )
                headers = ", ".join(answer.get("headers", {}))
                entry.responses.append(
                    Row(
                        status,
                        headers,
                        False,
                        kinds,
                        answer.get("description", ""),
                    )
                )
            operations.append(entry)
    return operations


@csrf_exempt
@require_GET
def docs_page(request: HttpRequest) -> HttpResponse:
    """The document as one server-rendered page: no script, nothing fetched from elsewhere."""
    document = build_document()
    schemas = [
        (name, schema.get("description", ""), _rows(schema))
        for name, schema in document["components"]["schemas"].items()
    ]
    return render(
        request,
        "apidoc/docs.html",
        {
            "info": document["info"],
            "version": document["openapi"],
            "operations": _operations(document),
            "schemas": schemas,
            "security": document["components"]["securitySchemes"],
        },
    )
