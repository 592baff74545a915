"""The registry client reads responses in large pieces: httpcore's 64 KiB reads cost a
trip through three libraries' Python code per piece, a large share of a pull's CPU."""

import socket
import threading
import time

import httpx

from ketch.registry.client import transport


def test_a_blob_arrives_in_pieces_larger_than_64_kib():
    body = b"x" * (4 << 20)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.5)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with httpx.Client() as client:
            with client.stream("GET", f"http://127.0.0.1:{server.getsockname()[1]}/") as response:
                time.sleep(0.2)  # the socket fills meanwhile
                sizes = [len(chunk) for chunk in response.iter_bytes()]
    finally:
        thread.join()
        server.close()
    assert sum(sizes) == len(body)
    assert max(sizes) > 64 << 10
    assert transport.READ_SIZE >= 1 << 20
