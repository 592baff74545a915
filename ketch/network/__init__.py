"""Container networking (for now: the files a container's resolver reads)."""
