"""Volumes as the Engine API sees them, and the mounts of each container."""
