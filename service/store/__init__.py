"""All database I/O: the archive behind one ``Store`` (every database error becomes
``StoreError``), the read-only ``Reader`` of the web view, and how both are opened from settings.

Callers import from here; the modules beneath (schema, dedup, frontier, search, migrations …) are
the store's own business.
"""

from service.errors import StoreError
from service.store.aio import AsyncStore, DatabaseState
from service.store.browse import (
    ArchivedAt,
    Cursor,
    ListFilter,
    ListPage,
    Reader,
    decode_cursor,
    encode_cursor,
)
from service.store.budget import Grant
from service.store.capture_index import Capture
from service.store.changes import KINDS as CHANGE_KINDS
from service.store.changes import Change
from service.store.connect import canonicalizer, open_reader, open_store, upgrade_database
from service.store.dedup import Fingerprints, fingerprints, version_hash
from service.store.export import write_csv, write_jsonl
from service.store.leader import LeaderLock
from service.store.recheck import RecheckRange
from service.store.reparse import ArchivedFetch, Reparsed, ReparseSource
from service.store.repo import Store
from service.store.resources import RESOURCE_PRIORITY, ResourceResult
from service.store.search import RANK_WINDOW, SearchHit, SearchQuery
from service.store.search import render as render_marks
from service.store.stats import COUNT_HELP, DEPRECATED_COUNTS
from service.store.types import ClaimedUrl, Discoveries, NewUrl, StoreOutcome

__all__ = [
    "CHANGE_KINDS",
    "COUNT_HELP",
    "DEPRECATED_COUNTS",
    "RANK_WINDOW",
    "RESOURCE_PRIORITY",
    "ArchivedAt",
    "ArchivedFetch",
    "AsyncStore",
    "Capture",
    "Change",
    "ClaimedUrl",
    "Cursor",
    "DatabaseState",
    "Discoveries",
    "Fingerprints",
    "Grant",
    "LeaderLock",
    "ListFilter",
    "ListPage",
    "NewUrl",
    "Reader",
    "RecheckRange",
    "ReparseSource",
    "Reparsed",
    "ResourceResult",
    "SearchHit",
    "SearchQuery",
    "Store",
    "StoreError",
    "StoreOutcome",
    "canonicalizer",
    "decode_cursor",
    "encode_cursor",
    "fingerprints",
    "open_reader",
    "open_store",
    "render_marks",
    "upgrade_database",
    "version_hash",
    "write_csv",
    "write_jsonl",
]
