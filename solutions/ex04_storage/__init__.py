"""Exercise 04 (reference): keep face embeddings in a JSON file, then in SQLite, without losing any."""

from .api import EmbeddingStore, Record, StoreFormatError
from .stores import (
    BUSY_TIMEOUT_S,
    JSON_FORMAT,
    JSON_VERSION,
    SQLITE_APPLICATION_ID,
    SQLITE_SCHEMA,
    SQLITE_VERSION,
    JsonFileStore,
    SqliteStore,
    validate_entry,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "JSON_FORMAT",
    "JSON_VERSION",
    "SQLITE_APPLICATION_ID",
    "SQLITE_SCHEMA",
    "SQLITE_VERSION",
    "EmbeddingStore",
    "JsonFileStore",
    "Record",
    "SqliteStore",
    "StoreFormatError",
    "validate_entry",
]
