"""The exercises of the face-embeddings course kit: fill in the stubs."""
