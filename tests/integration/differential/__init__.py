"""The drift guard: the same commands against ketchd and a real dockerd, compared (table.py)."""
