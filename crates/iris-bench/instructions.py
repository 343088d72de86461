#!/usr/bin/env python3
"""Instructions per request of `iris serve`, counted by valgrind's callgrind.

Wall-clock benchmarks on this 2-core machine move by 10-45 % between runs when anything else
runs beside them; instruction counts repeat to within a fraction of a percent whatever else the
machine does. This script starts one `iris serve` on a fresh SQLite file under callgrind (with
instrumentation off), warms each request kind up, then counts the instructions of N sequential
requests of each kind with instrumentation on, and prints the count per request.

    crates/iris-bench/instructions.py --iris-bin target/release/iris [--requests 200]

The request bodies are iris-bench's: Entra's POST (W8), W3's three incremental PATCHes in turn,
the matching query (W1) and DELETE (W3). Every request is checked for its expected status.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def entra_user(user_name, seed):
    given, family = f"Given{seed % 9973}", f"Family{seed % 7919}"
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": f"00000000-0000-4000-8000-{seed:012x}",
        "userName": user_name,
        "active": True,
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"employeeNumber": str(100_000 + seed), "department": f"Department {seed % 40}"},
    }


def incremental_patch(kind, user_name, seed):
    op = [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "displayName", "value": f"Renamed {seed}"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"w{seed}.{user_name}"},
    ][kind % 3]
    return {"schemas": [PATCH_SCHEMA], "Operations": [op]}


class Client:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None, expect=200):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", "Azure Active Directory SCIM Client")
        if data is not None:
            request.add_header("Content-Type", "application/scim+json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        if status != expect:
            sys.exit(f"{method} {path}: {status} (expected {expect}): {payload[:300]!r}")
        return json.loads(payload) if payload else None


def callgrind_control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iris-bin", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    n, warm = args.requests, args.warmup

    work = tempfile.mkdtemp(prefix="iris-instructions-")
    database = f"sqlite://{work}/iris.db"
    # The tenant rate limit off (through the environment, which builds older than it ignore).
    env = dict(os.environ, IRIS_LOG="warn", IRIS_RATE_LIMIT_TENANT_PER_SECOND="0")
    iris = [args.iris_bin, "--database", database]
    subprocess.run([*iris, "migrate"], check=True, env=env, capture_output=True)
    created = subprocess.run([*iris, "tenant", "create", "bench", "--json"], check=True,
                             env=env, capture_output=True, text=True)
    token = json.loads(created.stdout)["token"]

    port = free_port()
    out = f"{work}/callgrind.out"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         *iris, "serve", "--listen", f"127.0.0.1:{port}", "--no-bootstrap"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(f"{work}/serve.log", "w"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except OSError:
            time.sleep(0.2)
    else:
        sys.exit(f"iris serve did not answer; see {work}/serve.log")

    client = Client(base + "/scim/v2/bench", token)
    ids = {}

    def post(i):
        ids[i] = client.call("POST", "/Users", entra_user(f"user{i}@contoso.com", i), 201)["id"]

    def patch(i):
        client.call("PATCH", f"/Users/{ids[i]}", incremental_patch(i, f"user{i}@contoso.com", i))

    def lookup(i):
        client.call("GET", f"/Users?filter=userName+eq+%22user{i}%40contoso.com%22")

    def delete(i):
        client.call("DELETE", f"/Users/{ids[i]}", expect=204)

    phases = [("POST /Users", post), ("PATCH /Users/{id}", patch),
              ("GET /Users?filter=userName eq", lookup), ("DELETE /Users/{id}", delete)]
    results = []
    for name, step in phases:
        for i in range(warm):
            step(i)
        callgrind_control(server.pid, "-z")
        callgrind_control(server.pid, "-i", "on")
        for i in range(warm, warm + n):
            step(i)
        callgrind_control(server.pid, "-d", name)
        callgrind_control(server.pid, "-i", "off")
        results.append(name)

    server.terminate()
    server.wait()
    dumps = sorted((f for f in os.listdir(work) if f.startswith("callgrind.out")),
                   key=lambda f: os.path.getmtime(f"{work}/{f}"))
    counts = {}
    for dump in dumps:
        text = open(f"{work}/{dump}").read()
        trigger = re.search(r"^desc: Trigger: (?:Client Request: |dump )(.*)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger and total:
            counts[trigger.group(1).strip()] = int(total.group(1))
    print(f"| request | instructions per request ({n} sequential, SQLite) |")
    print("|---|---:|")
    for name in results:
        print(f"| {name} | {counts[name] / n / 1000:,.0f} K |")
    print(f"(callgrind dumps in {work})")


if __name__ == "__main__":
    main()
