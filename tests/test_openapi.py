"""The REST API's OpenAPI document: every error answer is documented with the schema of the
`{"message": ...}` envelope the API really sends, and the interactive docs are served."""

from __future__ import annotations

import re
from typing import Any

import httpx

# The health report is the body of `/v1/health`'s 503, not an error envelope.
NOT_ENVELOPES = {("/v1/health", "get", "503")}

ENVELOPE = {
    "type": "object",
    "properties": {"message": {"type": "string", "title": "Message"}},
    "required": ["message"],
}
FIELD_ERRORS = {
    "type": "object",
    "properties": {
        "message": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "title": "Message",
        }
    },
    "required": ["message"],
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _shape(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its documentation (`title` of the model, `description`)."""
    return {key: value for key, value in schema.items() if key not in ("title", "description")}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_every_error_answer_has_the_envelope_schema(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    problems: list[str] = []
    errors_checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            if not errors:
                problems.append(f"{method} {path}: no error answer documented")
            for status, response in errors.items():
                if (path, method, status) in NOT_ENVELOPES:
                    continue
                where = f"{method} {path} {status}"
                if not response.get("description"):
                    problems.append(f"{where}: no description")
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is None:
                    problems.append(f"{where}: no JSON schema")
                    continue
                expected = FIELD_ERRORS if status == "422" else ENVELOPE
                if _shape(_resolve(document, schema)) != expected:
                    problems.append(f"{where}: not the error envelope: {schema}")
                errors_checked += 1
    assert problems == []
    assert errors_checked > 100


async def test_no_operation_advertises_fastapis_own_validation_error(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    advertising = [
        f"{method} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "HTTPValidationError" in str(operation)
    ]
    assert advertising == []
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]


async def test_specific_descriptions_are_kept(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]
    delete_namespace = paths["/v1/namespaces/{namespace_id}"]["delete"]["responses"]
    assert delete_namespace["502"]["description"] == "The registry failed midway: retry to finish"
    assert paths["/v1/session"]["post"]["responses"]["403"]["description"] == (
        "Missing or wrong X-CSRF-Token; password sign-in turned off"
    )


async def test_the_portus_auth_scheme_is_declared(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    scheme = document["components"]["securitySchemes"]["Portus-Auth"]
    assert {k: scheme[k] for k in ("type", "in", "name")} == {
        "type": "apiKey",
        "in": "header",
        "name": "Portus-Auth",
    }
    secured = [
        operation
        for item in document["paths"].values()
        for operation in item.values()
        if {"Portus-Auth": []} in operation.get("security", [])
    ]
    assert len(secured) > 20


async def test_the_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # Swagger UI loads the API's own document, under the mount point.
    assert "/api/openapi.json" in response.text


async def test_the_docs_load_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    """Every file the page loads is served here, with its type: the docs work offline."""
    page = (await client.get("/api/docs")).text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert "validator.swagger.io" not in page and "//" not in "".join(urls)
    expected = {
        "/api/docs-assets/swagger-ui-bundle.js": ("text/javascript", b"SwaggerUIBundle"),
        "/api/docs-assets/swagger-ui.css": ("text/css", b".swagger-ui"),
        "/api/docs-assets/favicon.png": ("image/png", b"\x89PNG"),
    }
    assert sorted(urls) == sorted(expected)
    for url, (content_type, content) in expected.items():
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] == content_type, url
        assert content in asset.content[:200_000], url
