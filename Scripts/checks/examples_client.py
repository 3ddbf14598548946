#!/usr/bin/env python3
"""Runs each example in Examples/ on a free port and drives it with a client written by others.

AsyncEcho: a plain socket, many sizes, several connections at once.
KeyValue: pymemcache (PyPI), the memcached client library: set/get/get_many/delete, noreply and
          not, binary values, pipelined sets.
HelloHTTP: curl (keep-alive, several URLs on one connection) and http.client (HEAD has no body).
Exits non-zero, naming the failed check, on any mismatch.
"""
import http.client
import os
import socket
import subprocess
import sys
import threading

from pymemcache.client.base import Client

BIN = sys.argv[1]
failures = []


def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + (f" ({detail})" if detail and not ok else ""), flush=True)
    if not ok:
        failures.append(name)


def start(example):
    proc = subprocess.Popen([os.path.join(BIN, example), "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"{example} did not start: {line!r}")
    host, port = line.split()[-1].rsplit(":", 1)
    return proc, int(port)


def stop(proc, name):
    proc.terminate()
    proc.wait(timeout=10)


def echo_checks():
    proc, port = start("AsyncEcho")
    try:
        def one(i, results):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                ok = True
                for size in (1, 100, 4096, 200_000):
                    payload = bytes((i * 31 + j) % 251 for j in range(size))
                    sender = threading.Thread(target=s.sendall, args=(payload,))
                    sender.start()
                    got = b""
                    while len(got) < size:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    sender.join()
                    ok = ok and got == payload
                s.shutdown(socket.SHUT_WR)
                ok = ok and s.recv(1) == b""  # the server closes after the peer's end of file
                results[i] = ok
        results = {}
        threads = [threading.Thread(target=one, args=(i, results)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check("AsyncEcho echoes 1 B to 200 kB on 4 connections at once, and closes after EOF",
              len(results) == 4 and all(results.values()), str(results))
    finally:
        stop(proc, "AsyncEcho")


def kv_checks():
    proc, port = start("KeyValue")
    try:
        client = Client(("127.0.0.1", port), timeout=10, default_noreply=False)
        check("KeyValue set (with reply) stores", client.set("alpha", b"1") is True)
        check("KeyValue get returns the value", client.get("alpha") == b"1")
        binary = bytes(range(256)) * 40 + b"\r\nEND\r\n"
        client.set("binary", binary)
        check("KeyValue keeps binary values that contain the protocol's own lines", client.get("binary") == binary)
        check("KeyValue get of a missing key is None", client.get("missing") is None)
        client.set_many({f"k{i}": str(i).encode() for i in range(50)}, noreply=True)
        many = client.get_many([f"k{i}" for i in range(50)] + ["missing"])
        check("KeyValue get_many after 50 pipelined noreply sets", many == {f"k{i}": str(i).encode() for i in range(50)},
              str(len(many)))
        check("KeyValue delete of a present key", client.delete("alpha", noreply=False) is True)
        check("KeyValue delete of a missing key", client.delete("alpha", noreply=False) is False)
        check("KeyValue the deleted key is gone", client.get("alpha") is None)
        other = Client(("127.0.0.1", port), timeout=10)
        check("KeyValue values are shared across connections", other.get("binary") == binary)
        client.close()
        other.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"bogus\r\n")
            check("KeyValue answers an unknown command with ERROR", s.recv(100) == b"ERROR\r\n")
    finally:
        stop(proc, "KeyValue")


def http_checks():
    proc, port = start("HelloHTTP")
    try:
        url = f"http://127.0.0.1:{port}/"
        out = subprocess.run(["curl", "-sS", "--fail", url, url, url], capture_output=True, text=True, timeout=20)
        check("HelloHTTP answers curl (three requests on one connection)",
              out.returncode == 0 and out.stdout == "Hello, world\n" * 3, out.stderr)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("HEAD", "/")
        head = conn.getresponse()
        check("HelloHTTP HEAD has the length and no body", head.status == 200 and head.getheader("Content-Length") == "13"
              and head.read() == b"")
        conn.request("GET", "/again")
        get = conn.getresponse()
        check("HelloHTTP keep-alive GET after HEAD", get.status == 200 and get.read() == b"Hello, world\n")
        conn.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            check("HelloHTTP answers pipelined requests in order and closes on Connection: close",
                  got.count(b"HTTP/1.1 200 OK") == 2 and got.endswith(b"Hello, world\n"), repr(got))
    finally:
        stop(proc, "HelloHTTP")


echo_checks()
kv_checks()
http_checks()
if failures:
    print(f"FAIL: {len(failures)} example check(s) failed")
    sys.exit(1)
