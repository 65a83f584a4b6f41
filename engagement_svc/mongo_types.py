"""The types of what the service hands to and gets from PyMongo, named once.

PyMongo's client, database and collection are generic in the document type they decode to; the service's
clients decode to plain dicts (PyMongo's default `document_class`), so every handle is of `Document`. The demo
writes its dataset with PyMongo's synchronous client (`SyncClient`, `SyncDatabase`), of the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import pymongo.database
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

# A document as PyMongo decodes it, and a query, projection or stage as the service writes one: field -> value.
Document: TypeAlias = dict[str, Any]
Pipeline: TypeAlias = list[Document]
Client: TypeAlias = AsyncMongoClient[Document]
Database: TypeAlias = AsyncDatabase[Document]
Collection: TypeAlias = AsyncCollection[Document]
SyncClient: TypeAlias = MongoClient[Document]
SyncDatabase: TypeAlias = pymongo.database.Database[Document]
# The session a read runs in, or None for none (PyMongo's own default).
Session: TypeAlias = AsyncClientSession | None
# A change stream's position, as the server hands it out (`_data`: an opaque string) and takes it back.
ResumeToken: TypeAlias = Mapping[str, Any]
