#!/usr/bin/env python3
"""The json-api example (Examples/Sources/json-api) driven by Python's http.client over one
keep-alive connection: create, read, list, a chunked upload, delete, 404. Prints what failed
and exits non-zero. Usage: http_examples.py PORT"""
import http.client
import json
import sys


def main(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    problems = []

    def call(method, path, body=None, headers=None, chunked=False):
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = conn.getresponse()
        return response, response.read()

    response, body = call("POST", "/api/notes", json.dumps({"text": "from python"}), {"Content-Type": "application/json"})
    if response.status != 201:
        problems.append(f"POST: {response.status} {body!r}")
    note = json.loads(body)
    response, body = call("GET", f"/api/notes/{note['id']}")
    if response.status != 200 or json.loads(body) != note:
        problems.append(f"GET note: {response.status} {body!r}")
    # A chunked body (Transfer-Encoding: chunked), streamed to the async handler.
    pieces = (piece for piece in [b'{"text": ', b'"chunked', b' upload"}'])
    response, body = call("POST", "/api/notes", pieces, {"Content-Type": "application/json"}, chunked=True)
    if response.status != 201 or json.loads(body)["text"] != "chunked upload":
        problems.append(f"chunked POST: {response.status} {body!r}")
    response, body = call("GET", "/api/notes")
    texts = [n["text"] for n in json.loads(body)]
    if response.status != 200 or "from python" not in texts or "chunked upload" not in texts:
        problems.append(f"list: {response.status} {body!r}")
    response, body = call("POST", "/api/notes", "not json", {"Content-Type": "application/json"})
    if response.status != 400:
        problems.append(f"bad JSON: {response.status}")
    response, body = call("DELETE", f"/api/notes/{note['id']}")
    if response.status != 204 or body:
        problems.append(f"DELETE: {response.status} {body!r}")
    response, body = call("GET", f"/api/notes/{note['id']}")
    if response.status != 404:
        problems.append(f"GET deleted: {response.status}")
    response, body = call("HEAD", "/index.html")
    if response.status != 200 or body or not response.getheader("ETag"):
        problems.append(f"HEAD /index.html: {response.status}")
    conn.close()
    for problem in problems:
        print("   ", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
