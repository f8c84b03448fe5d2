"""The fetch stage: all network I/O of the service (docs/architecture.md, "fetch" and "archive").

Public surface: ``Fetcher`` and ``Response`` (client.py), ``WarcArchive``, ``WarcRef``,
``read_response``, ``iter_records``, ``iter_responses`` and ``ArchivedResponse`` (archive.py).
Nothing outside this package opens a connection.
"""

from service.fetch.archive import (
    ArchivedResponse,
    ArchiveError,
    RecordInfo,
    WarcArchive,
    WarcRef,
    iter_records,
    iter_responses,
    payload_digest,
    read_response,
)
from service.fetch.client import Fetcher, Response

__all__ = [
    "ArchiveError",
    "ArchivedResponse",
    "Fetcher",
    "RecordInfo",
    "Response",
    "WarcArchive",
    "WarcRef",
    "iter_records",
    "iter_responses",
    "payload_digest",
    "read_response",
]
