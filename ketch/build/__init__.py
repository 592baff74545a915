"""Dockerfile instructions: parsing and (later) the builder."""
