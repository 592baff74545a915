"""OCI data: digests, media types, references, image and runtime spec documents (pure)."""
