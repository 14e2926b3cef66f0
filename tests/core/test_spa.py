"""The built web UI (`app.core.spa`): its files with the right types and cache headers,
index.html for the UI's own routes, 404s for missing assets and for the server's own paths,
nothing outside the build, and nothing in the way of the routed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core import resources
from app.core.config import ConfigError, Settings
from app.core.spa import IMMUTABLE, SinglePageApp
from app.main import create_app
from tests.conftest import ClientFactory, make_settings
from tests.support.ui import FixtureUi, serving, write_fixture_ui


@pytest.fixture
def ui(tmp_path: Path) -> FixtureUi:
    built = write_fixture_ui(tmp_path / "dist")
    # Outside the build, where a path or a link must not lead.
    (tmp_path / "secret.txt").write_text("not for the web\n")
    (built.directory / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (built.directory / "assets" / "leak-00000000.js").symlink_to(tmp_path / "secret.txt")
    (built.directory / ".vite").mkdir()
    (built.directory / ".vite" / "manifest.json").write_text("{}\n")
    return built


@pytest.fixture
async def client(make_client: ClientFactory, ui: FixtureUi) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(ui=serving(ui)) as c:
        yield c


def _is_index(response: httpx.Response, ui: FixtureUi) -> bool:
    return (
        response.status_code == 200
        and response.text == ui.index
        and response.headers["content-type"] == "text/html; charset=utf-8"
        and response.headers["cache-control"] == "no-cache"
    )


class TestPages:
    async def test_root_is_index_html(self, client: httpx.AsyncClient, ui: FixtureUi) -> None:
        for path in ("/", "/index.html"):
            response = await client.get(path)
            assert _is_index(response, ui), path
            assert response.headers["x-content-type-options"] == "nosniff"

    @pytest.mark.parametrize(
        "path",
        [
            "/namespaces/3",
            "/password_reset?token=abc.DEF-123",
            "/repositories/7/tags/",
            "/teams/a/b/c",
            "/namespaces/my.app",  # a dot is no file extension to the UI's router
            "/favicon.png",  # a file the build does not have, outside assets/
            "/.vite/manifest.json",  # hidden files are not served
            "/apis",
            "/v2x/nope",
            "/metrics-overview",
        ],
    )
    async def test_client_routes_get_index_html(
        self, client: httpx.AsyncClient, ui: FixtureUi, path: str
    ) -> None:
        assert _is_index(await client.get(path), ui)

    async def test_head_answers_the_headers_of_get(
        self, client: httpx.AsyncClient, ui: FixtureUi
    ) -> None:
        head = await client.head("/namespaces/3")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(ui.index.encode()))
        assert head.headers["cache-control"] == "no-cache"
        asset = await client.head(f"/{ui.script}")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == IMMUTABLE

    async def test_other_methods_are_not_allowed(self, client: httpx.AsyncClient) -> None:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, "/namespaces/3")
            assert response.status_code == 405
            assert response.headers["allow"] == "GET, HEAD"
            assert response.json() == {"message": "Method not allowed"}

    async def test_conditional_requests_get_a_304(
        self, client: httpx.AsyncClient, ui: FixtureUi
    ) -> None:
        first = await client.get("/")
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        for headers in ({"If-None-Match": etag}, {"If-None-Match": f"W/{etag}, other"}):
            again = await client.get("/teams/1", headers=headers)
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert again.headers["cache-control"] == "no-cache"
        since = await client.get(f"/{ui.script}", headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        assert since.headers["cache-control"] == IMMUTABLE
        changed = await client.get("/", headers={"If-None-Match": '"another"'})
        assert _is_index(changed, ui)


class TestAssets:
    @pytest.mark.parametrize(
        ("name", "content_type", "cache"),
        [
            ("script", "text/javascript; charset=utf-8", IMMUTABLE),
            ("style", "text/css; charset=utf-8", IMMUTABLE),
            ("font", "font/woff2", IMMUTABLE),
            ("icon", "image/x-icon", "no-cache"),  # not hashed: revalidated
        ],
    )
    async def test_files_with_their_type_and_cache_policy(
        self, client: httpx.AsyncClient, ui: FixtureUi, name: str, content_type: str, cache: str
    ) -> None:
        path = getattr(ui, name)
        response = await client.get(f"/{path}")
        assert response.status_code == 200
        assert response.content == (ui.directory / path).read_bytes()
        assert response.headers["content-type"] == content_type
        assert response.headers["cache-control"] == cache
        assert response.headers["x-content-type-options"] == "nosniff"

    @pytest.mark.parametrize(
        "path",
        [
            "/assets/index-00000000.js",  # an asset of an older build
            "/assets/",
            "/assets",
            "/assets/nested/missing.css",
            "/assets/leak-00000000.js",  # a link out of the build
            "/assets/%2e%2e/%2e%2e/secret.txt",
            "/assets/..%2f..%2fsecret.txt",
            "/assets/..%5c..%5csecret.txt",
            "/assets/index-4f2a9c1b.js%00",
            "/assets/" + "x" * 300 + ".js",
        ],
    )
    async def test_a_missing_asset_is_a_404(
        self, client: httpx.AsyncClient, ui: FixtureUi, path: str
    ) -> None:
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"message": "Not found"}

    @pytest.mark.parametrize(
        "path",
        ["/leak.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/a/%2e%2e/%2e%2e/secret.txt"],
    )
    async def test_nothing_outside_the_build(
        self, client: httpx.AsyncClient, ui: FixtureUi, path: str
    ) -> None:
        response = await client.get(path)
        assert "not for the web" not in response.text
        assert _is_index(response, ui)


class TestServerPaths:
    PATHS = (
        "/api",
        "/api/",
        "/api/nope",
        "/api/v1/nope",
        "/api/v1/users/1/nope",
        "/v2",
        "/v2/",
        "/v2/nope",
        "/v2/token/x",
        "/v2/library/alpine/manifests/latest",
        "/metrics",
    )

    @pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
    async def test_answered_as_without_the_ui(
        self, make_client: ClientFactory, ui: FixtureUi, method: str
    ) -> None:
        async with make_client() as plain, make_client(ui=serving(ui)) as with_ui:
            for path in self.PATHS:
                before = await plain.request(method, path)
                after = await with_ui.request(method, path)
                assert (after.status_code, after.content) == (before.status_code, before.content)
                # 401: `GET /v2/`, the registry ping, without credentials
                assert after.status_code in (401, 404, 405, 307), path
                if method == "GET" and after.status_code == 404:
                    assert after.json() == {"message": "Not found"}

    async def test_the_api_still_answers(self, client: httpx.AsyncClient) -> None:
        ping = await client.get("/api/v1/_ping")
        assert ping.status_code == 200
        assert ping.headers["content-type"] == "application/json"


class Counting:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await self.app(scope, receive, send)


async def test_routed_requests_never_reach_the_ui(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, ui: FixtureUi
) -> None:
    configured = make_settings(settings, ui=serving(ui))
    app = create_app(configured, sessionmaker=sessionmaker, run_background=False)
    plain = create_app(settings, sessionmaker=sessionmaker, run_background=False)
    # Not a route: the route table, and so the route index, are those of the app without a UI.
    assert [getattr(r, "path", None) for r in app.routes] == [
        getattr(r, "path", None) for r in plain.routes
    ]
    assert isinstance(app.router.default, SinglePageApp)
    spy = Counting(app.router.default)
    app.router.default = spy
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as c:
            assert (await c.get("/api/v1/_ping")).status_code == 200
            assert (await c.get("/v2/token", params={"service": "x"})).status_code == 200
            events = await c.post("/v2/webhooks/events", json={"events": []})
            assert events.status_code == 401
            assert spy.paths == []
            assert (await c.get("/namespaces/3")).status_code == 200
    assert spy.paths == ["/namespaces/3"]


class TestWhereTheUiIs:
    def test_the_setting_must_name_a_build(self, settings: Settings, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        with pytest.raises(ConfigError, match=r"^ui\.directory: no index\.html in"):
            create_app(make_settings(settings, ui=serving(FixtureUi(tmp_path / "src"))))

    async def test_off_is_the_api_alone(self, make_client: ClientFactory, ui: FixtureUi) -> None:
        async with make_client(ui={"enabled": False, "directory": str(ui.directory)}) as client:
            assert (await client.get("/")).status_code == 404
            assert (await client.get("/namespaces/3")).json() == {"message": "Not found"}

    def test_none_found_is_the_api_alone_with_a_warning(
        self,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path / "app")
        monkeypatch.setattr(resources, "CHECKOUT_DIR", tmp_path)
        app = create_app(make_settings(settings, ui={"enabled": True}))
        assert not isinstance(app.router.default, SinglePageApp)
        assert "no built web UI" in caplog.text

    def test_the_package_first_then_the_checkout_build(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        package, checkout = tmp_path / "site" / "app", tmp_path / "site"
        monkeypatch.setattr(resources, "PACKAGE_DIR", package)
        monkeypatch.setattr(resources, "CHECKOUT_DIR", checkout)
        assert resources.ui_directory() is None
        # Vite's source index.html is not a build.
        (checkout / "frontend").mkdir(parents=True)
        (checkout / "frontend" / "index.html").write_text("<script src='/src/main.ts'>")
        assert resources.ui_directory() is None
        write_fixture_ui(checkout / "frontend" / "dist")
        assert resources.ui_directory() == checkout / "frontend" / "dist"
        write_fixture_ui(package / "ui")
        assert resources.ui_directory() == package / "ui"
        write_fixture_ui(tmp_path / "elsewhere")
        assert resources.ui_directory(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"

    def test_migrations_in_the_package_first_then_the_checkout(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        package, checkout = tmp_path / "site" / "app", tmp_path / "site"
        monkeypatch.setattr(resources, "PACKAGE_DIR", package)
        monkeypatch.setattr(resources, "CHECKOUT_DIR", checkout)
        with pytest.raises(RuntimeError, match="a wheel built without them"):
            resources.alembic_config_file()
        for directory in (checkout, package):
            (directory / "migrations").mkdir(parents=True)
            (directory / "alembic.ini").write_text("[alembic]\n")
            (directory / "migrations" / "env.py").write_text("")
        assert resources.alembic_config_file() == package / "alembic.ini"
        (package / "migrations" / "env.py").unlink()
        assert resources.alembic_config_file() == checkout / "alembic.ini"

    def test_this_checkout_has_its_migrations(self) -> None:
        config = resources.alembic_config("sqlite+aiosqlite:///x")
        assert Path(config.get_main_option("script_location") or "").name == "migrations"
        assert config.attributes["database_url"] == "sqlite+aiosqlite:///x"


def test_a_directory_without_index_html_is_refused(ui: FixtureUi) -> None:
    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("unused")

    with pytest.raises(ValueError, match=r"no index\.html"):
        SinglePageApp(ui.directory / "assets", not_found=not_found)
