"""Reference solutions of the face-embeddings course kit (instructors)."""
