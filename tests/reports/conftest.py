"""What the end-to-end tests of the reports over one seeded workspace per module share: the service over it."""

from __future__ import annotations

import pytest

from engagement_svc.app import create_app
from engagement_svc.settings import Settings
from tests.support.mongo import with_database


def settings_over(mongo_url: str, workspace, **changes) -> Settings:
    """The service's settings over a module's `workspace` (its state in a database of its own), with `changes`."""
    name = workspace.name
    return Settings(
        mongo_url=with_database(mongo_url, name),
        database=name,
        query_timeout_ms=20_000,
        state_database=name + "_state",
        warm_days=0,
        **changes,
    )


@pytest.fixture
def workspace_settings(mongo_url, workspace):
    """The settings over the module's `workspace`, with some changed: `workspace_settings(timezone=...)`."""
    return lambda **changes: settings_over(mongo_url, workspace, **changes)


@pytest.fixture
async def app(aiohttp_client, workspace_settings):
    """The service over the module's `workspace` (what it counted stays in the state database between tests)."""
    return await aiohttp_client(create_app(workspace_settings()))
