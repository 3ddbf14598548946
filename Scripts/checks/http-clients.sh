#!/usr/bin/env bash
# curl and Python's http.client against `corral serve` (see http_clients.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 Scripts/checks/http_clients.py
