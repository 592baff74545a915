"""The ``/volumes`` endpoints of the Engine API, as docker's Go client calls them.

A mixin of ``APIClient``: it needs only ``request`` and ``get_json``. A name is trimmed
first and an empty one refused before anything is sent, with the Go client's words
(``invalid volume name or ID: value is empty``).
"""

from ketch.client.http import filters_query, quote_segment
from ketch.client.networks import trim_id


class VolumeAPI:
    def volumes(self, filters: dict | None = None) -> dict:
        """GET /volumes: {"Volumes": [...], "Warnings": [...]} (``filters``: name -> values)."""
        query = {"filters": filters_query(filters)}
        return self.get_json("/volumes", query) or {}

    def inspect_volume(self, name: str) -> dict:
        return self.get_json(f"/volumes/{quote_segment(trim_id('volume', name))}")

    def create_volume(self, body: dict) -> dict:
        """POST /volumes/create: ``body`` is the CreateRequest (Name, Driver, DriverOpts, Labels)."""
        return self.request("POST", "/volumes/create", body=body).json() or {}

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.request("DELETE", f"/volumes/{quote_segment(trim_id('volume', name))}",
                     {"force": "1" if force else None}).read()

    def prune_volumes(self, filters: dict | None = None) -> dict:
        query = {"filters": filters_query(filters)}
        return self.request("POST", "/volumes/prune", query).json() or {}
