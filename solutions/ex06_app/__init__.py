"""Exercise 06 (reference): a face login app, built from Exercises 01 to 05."""

from types import ModuleType as _Module

from .app import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_K,
    DEFAULT_THRESHOLD,
    EMBEDDINGS_KEY,
    FORMAT_KEY,
    JSON_SUFFIXES,
    LOAD_THREADS,
    NAMES_KEY,
    NAMES_SUFFIX,
    OUTPUT_FORMAT,
    OUTPUT_SUFFIXES,
    SQLITE_SUFFIXES,
    Batch,
    EmbedSummary,
    LoginResult,
    UnknownPersonError,
    embed_folder,
    embed_images,
    identify,
    login,
    open_store,
    person_embedding,
    register,
)

# The public API is what this file imports above: the kit's checks read __all__.
__all__ = [
    name for name, value in globals().items() if not name.startswith("_") and not isinstance(value, _Module)
]
