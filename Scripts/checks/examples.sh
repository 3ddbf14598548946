#!/usr/bin/env bash
# Issue 9, item 6: the Examples package (depends on Corral by path) builds, and each example
# runs and answers a real client: a socket for AsyncEcho, pymemcache for KeyValue, curl and
# Python's http.client for HelloHTTP (Scripts/checks/examples_client.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --package-path Examples
bin=$(swift build --package-path Examples --show-bin-path)
python3 Scripts/checks/examples_client.py "$bin"
