"""The OpenAPI document is valid OpenAPI 3.1 and describes every route the collector serves."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from producers import openapi
from producers.app import Collector, create_app
from producers.keys import KeyStore
from runtime.settings import Settings
from tests.unit.producers.fakes import AckingProducer


def app_and_client() -> tuple[list[Route], TestClient]:
    keys = KeyStore.load(Path(__file__).parent / "keys.sample.json")
    app = create_app(Collector(Settings(), keys, AckingProducer()))
    return [r for r in app.routes if isinstance(r, Route)], TestClient(app)


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_described() -> None:
    routes, _ = app_and_client()
    served = {(r.path, m.lower()) for r in routes for m in (r.methods or ()) if m != "HEAD"}
    described = {(path, method) for path, ops in openapi.document()["paths"].items() for method in ops}
    assert served == described


def test_served_at_openapi_json() -> None:
    _, client = app_and_client()
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi.document()


def test_bodies_come_from_the_validating_models() -> None:
    schemas = openapi.document()["components"]["schemas"]
    event = schemas["EventIn"]
    assert event["properties"]["type"]["enum"] == sorted(
        ["thumbs", "rating", "comment", "edit", "copy", "regenerate", "rephrase", "abandon", "dwell"]
    )
    assert event["additionalProperties"] is False
    assert schemas["EventsEnvelope"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/EventIn"}
    assert "conversation_id" in schemas["TraceIn"]["required"]
