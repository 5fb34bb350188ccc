"""Exercise 04, the shared API: the student's file, exercises/ex04_storage/api.py, is the one copy.

It is given, not student work, and both trees must share one Record and one EmbeddingStore, so
the reference re-exports it rather than keeping a second copy in step by hand. Grading builds its
workspaces without solutions/, which is why the source lives on the student's side.
"""

from exercises.ex04_storage.api import EmbeddingStore, Record, StoreFormatError

__all__ = ["EmbeddingStore", "Record", "StoreFormatError"]
