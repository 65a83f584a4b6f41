"""What the end-to-end tests of the reports over one seeded workspace per module share: the service over it."""

from __future__ import annotations

import pytest

from engagement_svc.app import create_app
from engagement_svc.settings import Settings
from tests.support.mongo import with_database


@pytest.fixture
async def app(aiohttp_client, mongo_url, workspace):
    """The service over the module's `workspace` (what it counted stays in the state database between tests)."""
    name = workspace.name
    settings = Settings(
        mongo_url=with_database(mongo_url, name),
        database=name,
        query_timeout_ms=20_000,
        state_database=name + "_state",
        warm_days=0,
    )
    return await aiohttp_client(create_app(settings))
