#!/usr/bin/env python3
"""Fuzz a live `trackd serve` from its own OpenAPI document with schemathesis.

Every operation in /api/openapi.json is called with generated valid and
invalid input, a bounded number of cases each, authenticated as a regular
(non-admin) user through `Authorization: Bearer <token>`. Fails on any 5xx,
on a status code the document does not list, on a Content-Type it does not
list, and on a body that does not match the documented schema.

Why every operation may run, including PUT/DELETE /api/users/{id} and
DELETE /api/session: the credential is an API token, and nothing reachable
with it revokes it. DELETE /api/session only ends cookie sessions; a user
cannot delete itself (403), cannot disable, expire or restrict itself with
PUT (those fields are kept for non-administrators), and a new password or
email leaves its tokens valid. The user is not a manager, so it cannot
touch other accounts either. The test user owns a device, so device,
permission, position and report operations see real objects.

Run as `<venv>/bin/python schemathesis_check.py --url http://127.0.0.1:PORT
--token TOKEN`; uses the schemathesis installed next to this interpreter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT of trackd serve")
    parser.add_argument("--token", required=True, help="API token of a non-admin user")
    parser.add_argument("--max-examples", type=int, default=25, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=20240501)
    args = parser.parse_args()

    url = args.url.rstrip("/")
    executable = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    command = [
        executable,
        "run",
        f"{url}/api/openapi.json",
        "--url", url,
        "--checks", CHECKS,
        "--header", f"Authorization: Bearer {args.token}",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        # The upgrade itself is not HTTP that schemathesis can judge; the
        # plain GET (no Upgrade header) still must answer as documented, so
        # it is not excluded.
        "--phases", "examples,coverage,fuzzing",
        # One worker: with several threads Hypothesis parses lambda sources
        # concurrently and CPython 3.11's ast.parse is not thread-safe
        # ("AST constructor recursion depth mismatch", a tool error, not ours).
        "--workers", "1",
        "--request-timeout", "10",
        "--generation-database", "none",
        "--no-shrink",
        "--no-color",
    ]
    printable = [part if not part.startswith("Authorization:") else "Authorization: Bearer ***"
                 for part in command]
    print("[schemathesis]", " ".join(printable), flush=True)
    # Its working directory gets nothing worth keeping.
    with tempfile.TemporaryDirectory(prefix="trackd-schemathesis-") as cwd:
        result = subprocess.run(command, cwd=cwd, check=False)
    print(f"[schemathesis] exit status {result.returncode}", flush=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
