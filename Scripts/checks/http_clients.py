#!/usr/bin/env python3
"""Drives `corral serve` with clients nobody on this project wrote: curl and Python's
http.client. Checks status, headers and bodies byte for byte. Prints `ok - …` / `not ok - …`
per check and `N passed, M failed` at the end; exits non-zero on any failure."""
import hashlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile

CORRAL = os.environ.get("CORRAL", ".build/debug/corral")
passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {detail}")


def curl(*args):
    """Runs curl, returns (headers text, body bytes, write-out text)."""
    with tempfile.NamedTemporaryFile() as headers, tempfile.NamedTemporaryFile() as body:
        out = subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "10", "-D", headers.name, "-o", body.name,
                              *args], capture_output=True, timeout=30)
        return open(headers.name, "rb").read().decode("latin-1"), open(body.name, "rb").read(), out.stdout.decode()


def status_of(headers):
    lines = [l for l in headers.split("\r\n") if l.startswith("HTTP/")]
    return int(lines[-1].split()[1]) if lines else 0


def header(headers, name):
    for line in headers.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def main():
    root = tempfile.mkdtemp(prefix="corral-clients-")
    files = {
        "index.html": b"<!doctype html><title>corral</title>\n",
        "small.txt": b"Hello, world\n",
        "a b.txt": b"space in the name\n",
        "dir/index.html": b"nested index\n",
        "big.bin": os.urandom(300 * 1024),
    }
    for name, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        open(os.path.join(root, name), "wb").write(data)
    os.makedirs(os.path.join(root, "empty"))
    os.symlink("/etc/passwd", os.path.join(root, "out"))
    os.symlink("small.txt", os.path.join(root, "in"))
    passwd = open("/etc/passwd", "rb").read()

    server = subprocess.Popen([CORRAL, "serve", root, "--port", "0", "--loops", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        line = server.stdout.readline().decode()
        if not line.startswith("listening on "):
            print(f"not ok - server did not start: {line!r}")
            return 1
        port = int(line.split()[2].rsplit(":", 1)[1])
        base = f"http://127.0.0.1:{port}"

        # curl: bodies byte for byte, headers, HEAD, ranges, conditionals, escapes.
        for name, data in files.items():
            path = "/" + name.replace(" ", "%20")
            h, body, _ = curl(base + path)
            check(f"curl GET {path} → 200, body identical", status_of(h) == 200 and body == data,
                  f"status {status_of(h)}, {len(body)} bytes")
            check(f"curl GET {path} Content-Length", header(h, "Content-Length") == str(len(data)))
        h, body, _ = curl(base + "/")
        check("curl GET / serves index.html with text/html", body == files["index.html"]
              and header(h, "Content-Type", ).startswith("text/html"))
        check("curl GET /dir/ serves the nested index", curl(base + "/dir/")[1] == files["dir/index.html"])
        h, body, _ = curl("-I", base + "/big.bin")
        # (with -I curl writes the head to the output file too: no body bytes may follow it)
        check("curl HEAD: 200, length, no body", status_of(h) == 200 and header(h, "Content-Length") == str(300 * 1024)
              and body.decode("latin-1") == h)
        h, body, _ = curl("-r", "100-199", base + "/big.bin")
        check("curl Range 100-199 → 206 with exact bytes", status_of(h) == 206 and body == files["big.bin"][100:200]
              and header(h, "Content-Range") == f"bytes 100-199/{300 * 1024}")
        h, body, _ = curl("-r", "999999999-", base + "/big.bin")
        check("curl unsatisfiable Range → 416", status_of(h) == 416 and header(h, "Content-Range") == f"bytes */{300 * 1024}")
        h, _, _ = curl(base + "/small.txt")
        etag = header(h, "ETag")
        h2, body2, _ = curl("-H", f"If-None-Match: {etag}", base + "/small.txt")
        check("curl If-None-Match with the ETag → 304, empty body", status_of(h2) == 304 and body2 == b"")
        h3, _, _ = curl("-H", f"If-Modified-Since: {header(h, 'Last-Modified')}", base + "/small.txt")
        check("curl If-Modified-Since → 304", status_of(h3) == 304)
        check("Date header is an IMF-fixdate", (header(h, "Date") or "").endswith(" GMT") and len(header(h, "Date")) == 29)
        for path in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/a%00b", "/out",
                     "/dir/../../etc/passwd", "/%252e%252e/etc/passwd"]:
            h, body, _ = curl("--path-as-is", base + path)
            check(f"curl {path} → 4xx, nothing from outside the root",
                  status_of(h) in (400, 403, 404) and passwd not in body and b"root:" not in body, f"status {status_of(h)}")
        check("curl symlink inside the root → 200", curl(base + "/in")[1] == files["small.txt"])
        check("curl directory without index → 404", status_of(curl(base + "/empty/")[0]) == 404)
        check("curl missing file → 404", status_of(curl(base + "/nope")[0]) == 404)
        h, _, _ = curl("-X", "POST", "--data", "x=1", base + "/small.txt")
        check("curl POST → 405 with Allow: GET, HEAD", status_of(h) == 405 and header(h, "Allow") == "GET, HEAD")
        out = subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "10", "-w", "%{num_connects}\n",
                              base + "/small.txt", "-o", "/dev/null", base + "/index.html", "-o", "/dev/null",
                              base + "/big.bin", "-o", "/dev/null"], capture_output=True, timeout=30).stdout.decode()
        check("curl reuses one keep-alive connection for three URLs",
              sum(int(x) for x in out.split()) == 1, f"connects: {out.split()}")

        # Python's http.client: keep-alive, many requests on one connection.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        good = 0
        for i in range(50):
            name = ["small.txt", "big.bin", "index.html"][i % 3]
            connection.request("GET", "/" + name)
            response = connection.getresponse()
            body = response.read()
            good += response.status == 200 and body == files[name] and int(response.getheader("Content-Length")) == len(body)
        connection.close()
        check("http.client: 50 keep-alive requests on one connection, bodies identical", good == 50, f"{good}/50")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("HEAD", "/small.txt")
        response = connection.getresponse()
        check("http.client HEAD → 200, no body", response.status == 200 and response.read() == b"")
        connection.close()

        # HTTP/1.0 without keep-alive: a response, then the server closes.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            check("HTTP/1.0: one response, then the server closes", data.startswith(b"HTTP/1.1 200")
                  and data.endswith(files["small.txt"]))

        # Pipelining: 10 requests in one send, 10 responses in order.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            names = ["small.txt", "index.html", "nope", "big.bin", "dir/"] * 2
            s.sendall(b"".join(f"GET /{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in names))
            stream = s.makefile("rb")
            ok = 0
            for n in names:
                # Read each response off the shared stream (http.client's HTTPResponse closes its
                # file after one response, so it cannot read a pipeline).
                status = int(stream.readline().split()[1])
                length = 0
                while (line := stream.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = stream.read(length)
                expected = {"nope": None, "dir/": files["dir/index.html"]}.get(n, files.get(n))
                ok += (status == 404) if expected is None else (status == 200 and body == expected)
            check("pipelining: 10 requests in one send, 10 responses in order", ok == 10, f"{ok}/10")
    except Exception as error:  # a crash of the checker is a failure, reported like one
        check("the checks ran to the end", False, repr(error))
    finally:
        server.terminate()
        try:
            rest = server.communicate(timeout=15)[0].decode()
            check("SIGTERM: the server drains and exits 0", server.returncode == 0, f"exit {server.returncode}: {rest[-300:]}")
        except subprocess.TimeoutExpired:
            server.kill()
            check("SIGTERM: the server exits", False, "it did not exit within 15 s")
        subprocess.run(["rm", "-rf", root])
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
