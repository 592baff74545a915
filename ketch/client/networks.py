"""The ``/networks`` endpoints of the Engine API, as docker's Go client calls them.

A mixin of ``APIClient``: it needs only ``request`` and ``get_json``. A name or ID is
trimmed first and an empty one refused before anything is sent, with the Go client's
words (``invalid network name or ID: value is empty``).
"""

from ketch.client.http import HTTPError, filters_query, quote_segment

_SPACE = " \t\n\v\f\r\x85\xa0"


def trim_id(kind: str, value: str) -> str:
    """The Go client's trimID: the value without surrounding space, never empty."""
    value = value.strip(_SPACE)
    if not value:
        raise HTTPError(0, f"invalid {kind} name or ID: value is empty")
    return value


class NetworkAPI:
    def networks(self, filters: dict | None = None) -> list:
        """GET /networks: the network summaries (``filters``: name -> values)."""
        return self.get_json("/networks", {"filters": filters_query(filters)}) or []

    def inspect_network(self, name: str, verbose: bool = False, scope: str | None = None) -> dict:
        query = {"verbose": "true" if verbose else None, "scope": scope or None}
        return self.get_json(f"/networks/{quote_segment(trim_id('network', name))}", query)

    def create_network(self, body: dict) -> dict:
        """POST /networks/create: ``body`` is the CreateRequest (Name and options)."""
        return self.request("POST", "/networks/create", body=body).json() or {}

    def remove_network(self, name: str) -> None:
        self.request("DELETE", f"/networks/{quote_segment(trim_id('network', name))}").read()

    def connect_network(self, network: str, container: str, endpoint: dict | None = None) -> None:
        """POST /networks/{id}/connect with the container's EndpointSettings."""
        network, container = trim_id("network", network), trim_id("container", container)
        body = {"Container": container}
        if endpoint is not None:
            body["EndpointConfig"] = endpoint
        self.request("POST", f"/networks/{quote_segment(network)}/connect", body=body).read()

    def disconnect_network(self, network: str, container: str, force: bool = False) -> None:
        network, container = trim_id("network", network), trim_id("container", container)
        self.request("POST", f"/networks/{quote_segment(network)}/disconnect",
                     body={"Container": container, "Force": force}).read()

    def prune_networks(self, filters: dict | None = None) -> dict:
        return self.request("POST", "/networks/prune", {"filters": filters_query(filters)}).json() or {}
