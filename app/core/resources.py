"""The files the service needs besides its Python code: the Alembic migrations and the built web UI.

Two places hold them:

- an installed wheel: inside the package, where `setup.py` puts them when it builds one
  (`app/alembic.ini` and `app/migrations/`, the same layout as the checkout's top level, so the
  one `alembic.ini` serves both; `app/ui/`, the output of `npm run build`);
- a source checkout (an editable install, or tests run in it): `alembic.ini` and `migrations/`
  beside `app/`, the UI in `frontend/dist/` once built.

The package's copy comes first: an installed wheel never reads a folder beside site-packages.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from app.core.config import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
CHECKOUT_DIR = PACKAGE_DIR.parent
UI_INDEX = "index.html"


def alembic_config_file() -> Path:
    """`alembic.ini`, with `migrations/` beside it (its `script_location`)."""
    for directory in (PACKAGE_DIR, CHECKOUT_DIR):
        config = directory / "alembic.ini"
        if config.is_file() and (directory / "migrations" / "env.py").is_file():
            return config
    raise RuntimeError(
        f"alembic.ini and migrations/ are neither in the package ({PACKAGE_DIR}) nor in a source "
        f"checkout ({CHECKOUT_DIR}): a wheel built without them (see setup.py)"
    )


def alembic_config(database_url: str | None = None) -> Config:
    """The Alembic configuration of the migrations, on `database_url` if given (else
    `migrations/env.py` reads the settings)."""
    config = Config(str(alembic_config_file()))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


def ui_directory(configured: str = "") -> Path | None:
    """The built web UI: `configured` (the `ui.directory` setting) if set, else the package's,
    else the checkout's `frontend/dist`; None when there is none. Never the checkout's
    `frontend/` itself: its `index.html` is Vite's source, not a page."""
    if configured:
        directory = Path(configured)
        if not (directory / UI_INDEX).is_file():
            raise ConfigError(f"ui.directory: no {UI_INDEX} in {directory.resolve()}")
        return directory.resolve()
    for directory in (PACKAGE_DIR / "ui", CHECKOUT_DIR / "frontend" / "dist"):
        if (directory / UI_INDEX).is_file():
            return directory
    return None
