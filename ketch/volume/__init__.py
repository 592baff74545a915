"""Volumes: the local driver, copying an image's content into a new volume."""
