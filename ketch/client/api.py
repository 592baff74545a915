"""The Engine API client: one method per endpoint the CLI uses (docker-py's ``api`` layer).

Errors come back as ``HTTPError`` carrying the daemon's message; streams are returned
as iterators or raw sockets, never buffered whole.
"""

import _socket as socket  # see http.py
import os

from ketch import fastjson

from ketch.client.build import BuildAPI
from ketch.client.http import Connection, HTTPError, Response, build_path, filters_query, quote_segment
from ketch.client.networks import NetworkAPI
from ketch.client.volumes import VolumeAPI

DEFAULT_HOST = "unix:///run/ketch/ketch.sock"
API_VERSION = "1.45"


def _error_message(resp: Response) -> str:
    data = resp.read()
    try:
        doc = fastjson.loads(data)
        if isinstance(doc, dict) and "message" in doc:
            return doc["message"]
    except ValueError:
        pass
    return data.decode("utf-8", "replace").strip() or f"{resp.status} {resp.reason}"


class Hijacked:
    """A hijacked attach connection: the raw socket plus bytes already read."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sock = conn.sock
        self.pending = conn.take_buffer()

    def recv(self, n: int = 65536) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        return self.sock.recv(n)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.conn.close()


class APIClient(NetworkAPI, VolumeAPI, BuildAPI):
    def __init__(self, host: str | None = None, version: str | None = None) -> None:
        self.host = host or os.environ.get("KETCH_HOST") or DEFAULT_HOST
        if self.host.startswith("unix://"):
            self.path = self.host[len("unix://"):]
        elif self.host.startswith("/"):
            self.path = self.host
        else:
            raise HTTPError(0, f"unsupported host {self.host!r}: use unix:///path/to/socket")
        # DOCKER_API_VERSION pins the version, as for the docker CLI: an older engine
        # (dockerd 20.10 answers 1.41 at most) refuses a newer one
        self.version = version or os.environ.get("DOCKER_API_VERSION") or API_VERSION
        self._conn: Connection | None = None

    # -- plumbing -----------------------------------------------------------------
    def _connection(self) -> Connection:
        if self._conn is None or not self._conn.keep_alive:
            if self._conn is not None:
                self._conn.close()
            self._conn = Connection(self.path, self.host)
        return self._conn

    def new_connection(self) -> Connection:
        return Connection(self.path, self.host)

    def request(self, method: str, path: str, query: dict | None = None, body=None,
                headers: dict | None = None, ok=(200, 201, 204, 304), conn: Connection | None = None) -> Response:
        c = conn or self._connection()
        if isinstance(body, (dict, list)):
            body = fastjson.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        resp = c.send(method, build_path(self.version, path, query), body, headers)
        if resp.status not in ok:
            raise HTTPError(resp.status, _error_message(resp))
        return resp

    def get_json(self, path: str, query: dict | None = None):
        return self.request("GET", path, query).json()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- system -------------------------------------------------------------------
    def ping(self) -> Response:
        resp = self.request("GET", "/_ping")
        resp.read()
        return resp

    def version_info(self) -> dict:
        return self.get_json("/version")

    def info(self) -> dict:
        return self.get_json("/info")

    # -- containers -----------------------------------------------------------------
    def stat_path(self, cid: str, path: str) -> str:
        """``HEAD /archive``: the ``X-Docker-Container-Path-Stat`` value (base64 JSON)."""
        resp = self.request("HEAD", f"/containers/{quote_segment(cid)}/archive", {"path": path})
        resp.read()
        return resp.headers.get("x-docker-container-path-stat", "")

    def get_archive(self, cid: str, path: str) -> Response:
        """``GET /archive``: the response, its body a tar stream (``chunks()``)."""
        return self.request("GET", f"/containers/{quote_segment(cid)}/archive", {"path": path})

    def put_archive(self, cid: str, path: str, chunks, copy_uid_gid: bool = False) -> None:
        query = {"path": path, "noOverwriteDirNonDir": "true",
                 "copyUIDGID": "true" if copy_uid_gid else None}
        self.request("PUT", f"/containers/{quote_segment(cid)}/archive", query, chunks,
                     {"Content-Type": "application/x-tar"}).read()

    def create_container(self, config: dict, name: str | None = None, platform: str | None = None) -> dict:
        return self.request("POST", "/containers/create", {"name": name, "platform": platform}, config).json()

    def start(self, cid: str) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/start").read()

    def stop(self, cid: str, timeout: int | None = None, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/stop", {"t": timeout, "signal": signal}).read()

    def restart(self, cid: str, timeout: int | None = None, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/restart", {"t": timeout, "signal": signal}).read()

    def kill(self, cid: str, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/kill", {"signal": signal}).read()

    def pause(self, cid: str) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/pause").read()

    def unpause(self, cid: str) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/unpause").read()

    def remove(self, cid: str, force: bool = False, volumes: bool = False, link: bool = False) -> None:
        query = {"force": force, "v": volumes, "link": link}
        self.request("DELETE", f"/containers/{quote_segment(cid)}", query).read()

    def rename(self, cid: str, name: str) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/rename", {"name": name}).read()

    def resize(self, cid: str, height: int, width: int) -> None:
        self.request("POST", f"/containers/{quote_segment(cid)}/resize", {"h": height, "w": width}).read()

    def inspect_container(self, cid: str, size: bool = False) -> dict:
        return self.get_json(f"/containers/{quote_segment(cid)}/json", {"size": size})

    def containers(self, all: bool = False, limit: int | None = None, size: bool = False,
                   filters: dict | None = None) -> list:
        query = {"all": all, "limit": limit if limit and limit > 0 else None, "size": size,
                 "filters": filters_query(filters)}
        return self.get_json("/containers/json", query)

    def wait_request(self, cid: str, condition: str | None = None) -> Response:
        """Send the wait request on its own connection; read the result from the response later."""
        return self.request("POST", f"/containers/{quote_segment(cid)}/wait",
                            {"condition": condition}, conn=self.new_connection())

    def wait(self, cid: str, condition: str | None = None) -> int:
        doc = self.wait_request(cid, condition).json() or {}
        if doc.get("Error") and doc["Error"].get("Message"):
            raise HTTPError(500, doc["Error"]["Message"])
        return int(doc.get("StatusCode", 0))

    def attach(self, cid: str, stdin: bool, stdout: bool, stderr: bool, logs: bool = False,
               detach_keys: str | None = None) -> Hijacked:
        conn = self.new_connection()
        query = {"stream": True, "stdin": stdin, "stdout": stdout, "stderr": stderr, "logs": logs,
                 "detachKeys": detach_keys or None}
        self.request("POST", f"/containers/{quote_segment(cid)}/attach", query,
                            headers={"Connection": "Upgrade", "Upgrade": "tcp"}, ok=(101, 200), conn=conn)
        return Hijacked(conn)

    # -- exec ---------------------------------------------------------------------
    def exec_create(self, cid: str, body: dict) -> str:
        return self.request("POST", f"/containers/{quote_segment(cid)}/exec", body=body).json()["Id"]

    def exec_start(self, eid: str, tty: bool, console_size: list | None = None) -> None:
        body = {"Detach": True, "Tty": tty, "ConsoleSize": console_size}
        self.request("POST", f"/exec/{quote_segment(eid)}/start", body=body).read()

    def exec_attach(self, eid: str, tty: bool, console_size: list | None = None) -> Hijacked:
        conn = self.new_connection()
        self.request("POST", f"/exec/{quote_segment(eid)}/start",
                     body={"Detach": False, "Tty": tty, "ConsoleSize": console_size},
                     headers={"Connection": "Upgrade", "Upgrade": "tcp"}, ok=(101, 200), conn=conn)
        return Hijacked(conn)

    def exec_resize(self, eid: str, height: int, width: int) -> None:
        self.request("POST", f"/exec/{quote_segment(eid)}/resize", {"h": height, "w": width}).read()

    def exec_inspect(self, eid: str) -> dict:
        return self.get_json(f"/exec/{quote_segment(eid)}/json")

    def stats(self, cid: str, stream: bool) -> Response:
        return self.request("GET", f"/containers/{quote_segment(cid)}/stats", {"stream": "1" if stream else "0"},
                            conn=self.new_connection())

    def update(self, cid: str, body: dict) -> dict:
        return self.request("POST", f"/containers/{quote_segment(cid)}/update", body=body).json()

    def logs(self, cid: str, **query) -> Response:
        return self.request("GET", f"/containers/{quote_segment(cid)}/logs", query,
                            conn=self.new_connection())

    def events(self, since: str | None = None, until: str | None = None,
               filters: dict | None = None) -> Response:
        """GET /events: a stream of JSON objects, one a line."""
        query = {"since": since, "until": until,
                 "filters": filters_query(filters)}
        return self.request("GET", "/events", query, conn=self.new_connection())

    # -- images -------------------------------------------------------------------
    def images(self, all: bool = False, filters: dict | None = None) -> list:
        return self.get_json("/images/json", {"all": all, "filters": filters_query(filters)})

    def inspect_image(self, name: str) -> dict:
        return self.get_json(f"/images/{quote_segment(name)}/json")

    def remove_image(self, name: str, force: bool = False, noprune: bool = False) -> list:
        return self.request("DELETE", f"/images/{quote_segment(name)}",
                            {"force": force, "noprune": noprune}).json()

    def tag_image(self, source: str, repo: str, tag: str | None) -> None:
        self.request("POST", f"/images/{quote_segment(source)}/tag", {"repo": repo, "tag": tag}).read()

    def import_image(self, chunks, repo: str | None, tag: str | None, changes: list[str],
                     message: str | None, source: str = "-", platform: str | None = None) -> Response:
        """``source`` "-" sends ``chunks``; a URL is fetched by the daemon (no body)."""
        query = {"fromSrc": source, "repo": repo, "tag": tag, "changes": changes or None,
                 "message": message, "platform": platform or None}
        if source != "-":
            return self.request("POST", "/images/create", query, conn=self.new_connection())
        return self.request("POST", "/images/create", query, body=chunks,
                            headers={"Content-Type": "application/x-tar"})

    def save_images(self, names: list[str]) -> Response:
        return self.request("GET", "/images/get", {"names": names}, conn=self.new_connection())

    def load_images(self, chunks, quiet: bool) -> Response:
        return self.request("POST", "/images/load", {"quiet": "1" if quiet else "0"}, body=chunks,
                            headers={"Content-Type": "application/x-tar"}, conn=self.new_connection())

    def pull(self, image: str, tag: str | None, platform: str | None = None,
             auth: str | None = None) -> Response:
        """POST /images/create?fromImage=: the progress stream (read it as it comes)."""
        return self.request("POST", "/images/create",
                            {"fromImage": image, "tag": tag, "platform": platform or None},
                            headers={"X-Registry-Auth": auth} if auth else None,
                            conn=self.new_connection())

    def push(self, name: str, tag: str | None, auth: str | None = None) -> Response:
        return self.request("POST", f"/images/{quote_segment(name)}/push", {"tag": tag},
                            headers={"X-Registry-Auth": auth or "e30="},
                            conn=self.new_connection())

    def login(self, auth: dict) -> dict:
        """POST /auth: the daemon checks the credentials with the registry."""
        return self.request("POST", "/auth", body=auth).json() or {}

    def search(self, term: str, limit: int | None = None, filters: dict | None = None,
               auth: str | None = None) -> list:
        query = {"term": term, "limit": limit or None,
                 "filters": filters_query(filters)}
        return self.request("GET", "/images/search", query,
                            headers={"X-Registry-Auth": auth} if auth else None).json() or []

    def commit(self, container: str, repo: str | None, tag: str | None, comment: str | None,
               author: str | None, changes: list[str], pause: bool) -> dict:
        """docker's ContainerCommit: no body, ``pause=0`` only when not pausing."""
        query = {"container": container, "repo": repo or None, "tag": tag or None,
                 "comment": comment or None, "author": author or None, "changes": changes or None,
                 "pause": None if pause else "0"}
        return self.request("POST", "/commit", query).json()

    def image_history(self, name: str) -> list:
        return self.get_json(f"/images/{quote_segment(name)}/history")

    def prune_images(self, filters: dict | None = None) -> dict:
        query = {"filters": filters_query(filters)}
        return self.request("POST", "/images/prune", query).json()

    def prune(self, kind: str, filters: dict | None = None) -> dict:
        """POST /<kind>/prune (networks, volumes, build) for system prune."""
        query = {"filters": filters_query(filters)}
        return self.request("POST", f"/{kind}/prune", query).json()

    def disk_usage(self) -> dict:
        return self.get_json("/system/df")

    # -- container processes and files ---------------------------------------------
    def top(self, cid: str, ps_args: str | None = None) -> dict:
        return self.get_json(f"/containers/{quote_segment(cid)}/top", {"ps_args": ps_args or None})

    def changes(self, cid: str) -> list | None:
        return self.get_json(f"/containers/{quote_segment(cid)}/changes")

    def export(self, cid: str) -> Response:
        return self.request("GET", f"/containers/{quote_segment(cid)}/export", conn=self.new_connection())

    def prune_containers(self, filters: dict | None = None) -> dict:
        query = {"filters": filters_query(filters)}
        return self.request("POST", "/containers/prune", query).json()
