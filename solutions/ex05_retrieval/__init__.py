"""Exercise 05 (reference): who is this? The k stored embeddings nearest to a query."""

from types import ModuleType as _Module

from .retrieval import top_k

# The public API is what this file imports above: the kit's checks read __all__.
__all__ = [
    name for name, value in globals().items() if not name.startswith("_") and not isinstance(value, _Module)
]
