#!/usr/bin/env python3
"""Python's http.client against a running `corral serve` (called by http-integration.sh).

    python3 Scripts/checks/http_integration.py HOST PORT ROOT

ROOT is the directory the server serves (the fixtures http-integration.sh created). Prints one
`ok - …` / `not ok - …` line per check. Exits 0 when it ran to the end, whatever the checks
found (the shell script counts the lines); a crash is reported as a failed check and exit 0
as well, so only a hang (killed by `timeout`) or an interpreter failure gives another status.
Standard library only; every socket has a 10 s timeout.
"""
import http.client
import os
import socket
import sys
import time

TIMEOUT = 10


def check(name, condition, detail=""):
    print(f"ok - {name}" if condition else f"not ok - {name}" + (f" ({detail})" if detail else ""), flush=True)


class SharedStream:
    """A socket stand-in whose makefile() hands every HTTPResponse the same buffered reader.

    http.client.HTTPResponse(sock) reads from sock.makefile("rb") and closes that file when its
    response is complete. A fresh buffered file per response would swallow the bytes of the
    responses behind it in a pipeline, so each response gets this one reader, and close() is a
    no-op: the responses are parsed by http.client itself, one after another, off one stream."""

    class _Reader:
        def __init__(self, raw):
            self._raw = raw

        def __getattr__(self, name):
            return getattr(self._raw, name)

        def close(self):
            pass

    def __init__(self, sock):
        self._reader = self._Reader(sock.makefile("rb"))

    def makefile(self, mode, *args, **kwargs):
        return self._reader


def read_until_close(sock, limit=10 << 20):
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            return data, True
        data += chunk
    return data, False


def main():
    host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    files = {}
    for name in ["hello.txt", "random.bin", "index.html", "a b.txt", "sub/index.html"]:
        with open(os.path.join(root, name), "rb") as f:
            files[name] = f.read()

    # 1. Keep-alive: 50 GETs on one HTTPConnection. http.client silently reconnects when the
    #    server closes, so the local port is compared before and after every request.
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    rotation = [("/hello.txt", "hello.txt"), ("/random.bin", "random.bin"), ("/", "index.html"),
                ("/a%20b.txt", "a b.txt"), ("/sub/", "sub/index.html")]
    good, problems, local = 0, [], None
    for i in range(50):
        path, name = rotation[i % len(rotation)]
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        port_now = connection.sock.getsockname()[1] if connection.sock else None
        if local is None:
            local = port_now
        length = response.getheader("Content-Length")
        fine = (response.status == 200 and length == str(len(files[name])) and body == files[name]
                and port_now == local and not response.will_close)
        good += fine
        if not fine and len(problems) < 3:
            problems.append(f"#{i} {path}: status {response.status}, Content-Length {length}, {len(body)} bytes, "
                            f"local port {port_now} vs {local}, will_close {response.will_close}")
    connection.close()
    check("http.client: 50 GETs on one keep-alive connection: status, Content-Length, bodies identical",
          good == 50, f"{good}/50 good; " + "; ".join(problems))

    # HEAD then GET on one connection: the HEAD must not leave body bytes behind.
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    connection.request("HEAD", "/random.bin")
    head = connection.getresponse()
    head_body = head.read()
    connection.request("GET", "/hello.txt")
    after = connection.getresponse()
    after_body = after.read()
    connection.close()
    check("http.client: HEAD /random.bin (200, Content-Length 204800, no body) then GET on the same connection",
          head.status == 200 and head.getheader("Content-Length") == "204800" and head_body == b""
          and after.status == 200 and after_body == files["hello.txt"],
          f"HEAD {head.status} {head.getheader('Content-Length')}, then {after.status} {after_body[:40]!r}")

    # 2. HTTP/1.0 without keep-alive: one response, then the server closes the connection.
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
        data, closed = read_until_close(s)
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        # parse the same bytes with http.client, from a second identical request
        s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
        response = http.client.HTTPResponse(s, method="GET")
        response.begin()
        body = response.read()
        rest, closed_after_parse = read_until_close(s)
    check("HTTP/1.0 request: a response, then the server closes the connection",
          closed and closed_after_parse and rest == b"" and response.status == 200 and body == files["hello.txt"]
          and data.endswith(files["hello.txt"]),
          f"closed {closed}/{closed_after_parse}, status {response.status}, {len(data)} bytes, {len(rest)} after")

    # HTTP/1.0 with Connection: keep-alive: the connection stays open for a second request.
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        stream = SharedStream(s)
        statuses = []
        for _ in range(2):
            s.sendall(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = http.client.HTTPResponse(stream, method="GET")
            response.begin()
            statuses.append((response.status, response.read() == files["hello.txt"]))
    check("HTTP/1.0 with Connection: keep-alive: two requests on one connection",
          statuses == [(200, True), (200, True)], f"{statuses}")

    # 3. Pipelining: 10 requests in one send, 10 responses parsed in order by http.client.
    pipeline = [("GET", "/hello.txt", 200, "hello.txt"), ("GET", "/random.bin", 200, "random.bin"),
                ("GET", "/missing", 404, None), ("HEAD", "/index.html", 200, ""),
                ("GET", "/a%20b.txt", 200, "a b.txt"), ("POST", "/hello.txt", 405, None),
                ("GET", "/sub/", 200, "sub/index.html"), ("GET", "/random.bin", 200, "random.bin"),
                ("GET", "/", 200, "index.html"), ("GET", "/hello.txt", 200, "hello.txt")]
    wire = b"".join(f"{m} {p} HTTP/1.1\r\nHost: {host}\r\n".encode()
                    + (b"Content-Length: 0\r\n" if m == "POST" else b"") + b"\r\n" for m, p, _, _ in pipeline)
    got = []
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(wire)
        stream = SharedStream(s)
        for method, path, status, name in pipeline:
            response = http.client.HTTPResponse(stream, method=method)
            response.begin()
            body = response.read()
            expected = b"" if name in ("", None) and method == "HEAD" else files.get(name) if name else None
            fine = response.status == status and (expected is None or body == expected)
            got.append(f"{method} {path} → {response.status}{'' if fine else ' ✗'}")
        # the connection is still usable after the pipeline
        s.sendall(f"GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        response = http.client.HTTPResponse(stream, method="GET")
        response.begin()
        after = (response.status, response.read() == files["hello.txt"])
    check("pipelining: 10 requests in one send, 10 responses in order (http.client.HTTPResponse)",
          not any("✗" in g for g in got) and len(got) == 10, "; ".join(got))
    check("pipelining: the connection still answers afterwards", after == (200, True), f"{after}")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a crash of the checker is a failed check, reported like one
        check("http_integration.py ran to the end", False, repr(error))
    sys.exit(0)
