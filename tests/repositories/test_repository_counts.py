"""`namespaces.repositories_count` + pending changes: exact through every way repositories come
and go (the database triggers see inserts, deletes and cascades), before and after a fold."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal, PrincipalKind
from app.authz.queries import readable_namespaces
from app.models import Namespace, Repository, RepositoryCountChange, Visibility
from app.repositories import repository
from tests.fixtures import factories


async def _true_count(session: AsyncSession, namespace_id: int | None = None) -> int:
    statement = select(func.count(Repository.id))
    if namespace_id is not None:
        statement = statement.where(Repository.namespace_id == namespace_id)
    return int(await session.scalar(statement) or 0)


async def _counted(session: AsyncSession, visible: ColumnElement[bool]) -> int:
    """count_visible; visible_scope's total must agree, and so must the rows its condition
    lets through."""
    count = await repository.count_visible(session, visible)
    scope, total = await repository.visible_scope(session, visible)
    selected = await session.scalar(select(func.count(Repository.id)).where(scope))
    assert count == total == selected
    return count


async def test_counts_follow_inserts_deletes_and_cascades(session: AsyncSession) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    hidden = await factories.create_namespace(session, registry, name="hidden")
    doomed = await factories.create_namespace(
        session, registry, name="doomed", visibility=Visibility.public
    )
    for namespace, count in ((public, 5), (hidden, 3), (doomed, 4)):
        session.add_all(Repository(name=f"app{i}", namespace_id=namespace.id) for i in range(count))
    await session.flush()
    everyone = true()
    alice_sees = readable_namespaces(
        Principal(PrincipalKind.user, user_id=alice.id, username="alice")
    )

    assert await _counted(session, everyone) == await _true_count(session) == 12
    assert await _counted(session, alice_sees) == 9

    assert await repository.fold_repository_counts(session) == 12
    assert await repository.fold_repository_counts(session) == 0  # nothing left to fold
    assert await _counted(session, everyone) == 12
    assert await _counted(session, alice_sees) == 9
    counter = await session.scalar(
        select(Namespace.repositories_count).where(Namespace.id == public.id)
    )
    assert counter == 5

    # one deleted directly, a namespace deleted with its repositories (cascade)
    await session.execute(
        delete(Repository).where(Repository.namespace_id == public.id, Repository.name == "app0")
    )
    await session.execute(delete(Namespace).where(Namespace.id == doomed.id))
    assert await _counted(session, everyone) == await _true_count(session) == 7
    assert await _counted(session, alice_sees) == 4
    await repository.fold_repository_counts(session, batch=2)  # in small batches
    while await repository.fold_repository_counts(session, batch=2):
        pass
    assert await session.scalar(select(func.count(RepositoryCountChange.id))) == 0
    assert await _counted(session, everyone) == 7
    assert await _counted(session, alice_sees) == 4
