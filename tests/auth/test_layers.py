"""Authentication sits below the domains: `app.auth` imports infrastructure (`app.core`), the
tables (`app.models`) and the policy (`app.authz`), never a domain package (what it needs of
one, such as the LDAP accounts, is handed to it in `AppState`)."""

from __future__ import annotations

import ast
from pathlib import Path

import app.auth

ALLOWED = ("app.auth", "app.authz", "app.core", "app.models")


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_auth_imports_no_domain_package() -> None:
    package = Path(app.auth.__file__).parent
    outside = {
        f"{path.name}: {module}"
        for path in sorted(package.glob("*.py"))
        for module in _imported_modules(path)
        if (module == "app" or module.startswith("app."))
        and not any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED)
    }
    assert outside == set()
