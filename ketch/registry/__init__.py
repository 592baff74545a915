"""Registries: the client that pulls and pushes (``client/``) and, later, ketch's own server."""
