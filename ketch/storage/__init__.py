"""Snapshotters: directories for unpacked layers and containers' writable layers, as ``Mount`` data."""
