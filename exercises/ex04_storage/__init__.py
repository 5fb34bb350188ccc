"""Exercise 04 (your code): keep face embeddings in a JSON file, then in SQLite, without losing any."""

from types import ModuleType as _Module

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

# The public API is what this file imports above: the kit's checks read __all__.
__all__ = [
    name for name, value in globals().items() if not name.startswith("_") and not isinstance(value, _Module)
]
