"""Prunes while a build runs (REVIEW12 #3): the running build's intermediate images are
leased, so builder/image prune leave them and the build ends well."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(3)  # the prunes run meanwhile
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"hi\n")

    def log_message(self, *args):
        pass


def test_prunes_during_a_build_leave_its_images(fresh_daemon, tmp_path):
    d = fresh_daemon
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nENV A=1\nADD http://127.0.0.1:{server.server_address[1]}/f /f\n")
        build = d.popen_ketch("build", "-q", "-t", "leased:1", str(ctx))
        try:
            time.sleep(1.5)  # step 2's image is made, step 3 downloads
            assert d.ketch("builder", "prune", "-af").returncode == 0
            assert d.ketch("image", "prune", "-af").returncode == 0
            out, _ = build.communicate(timeout=60)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
        assert build.returncode == 0, out
        assert d.ketch("run", "--rm", "--network", "none", "leased:1", "sh", "-c", "cat /f; echo $A").stdout == "hi\n1\n"
    finally:
        server.shutdown()
        server.server_close()
        d.ketch("rmi", "leased:1")
