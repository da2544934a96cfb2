"""A 405 names every method its path serves in Allow, including routes that come from included routers (the memory
and stream routes serve GET and DELETE, or GET and POST, on one path)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from vreason.server.errors import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(prefix="/v1/things")

    @router.get("/items")
    def listing() -> dict:
        return {}

    @router.post("/items")
    def add() -> dict:
        return {}

    @router.get("/items/{item_id}")
    def show(item_id: str) -> dict:
        return {}

    @router.delete("/items/{item_id}")
    def forget(item_id: str) -> dict:
        return {}

    app.include_router(router)
    return app


def test_a_405_allows_every_method_of_its_path():
    client = TestClient(_app())
    listing = client.options("/v1/things/items?limit=5")
    assert listing.status_code == 405
    assert listing.headers["allow"] == "GET, POST"
    assert listing.json()["error"]["code"] == "method_not_allowed"
    item = client.put("/v1/things/items/m3")
    assert item.status_code == 405
    assert item.headers["allow"] == "DELETE, GET"


def test_an_unknown_path_is_still_a_404():
    assert TestClient(_app()).options("/v1/things/nope/deeper").status_code == 404
