#!/usr/bin/env python3
"""Checks deploy/docker-compose.yml without Docker: valid YAML in the Compose shape, every
`depends_on` and named volume declared, and every service's command a datapunk
subcommand whose flags `datapunk <subcommand> --help` lists.

Usage: check-compose.py COMPOSE_FILE DATAPUNK_BINARY
"""
import subprocess
import sys

import yaml

compose_path, binary = sys.argv[1], sys.argv[2]
with open(compose_path) as f:
    compose = yaml.safe_load(f)
problems = []
services = compose.get("services") or {}
volumes = set((compose.get("volumes") or {}).keys())
if not services:
    problems.append("no services")
helps = {}
for name, service in services.items():
    for dep in service.get("depends_on", []):
        if dep not in services:
            problems.append(f"{name}: depends_on {dep!r} is not a service")
    for mount in service.get("volumes", []):
        source = mount.split(":")[0]
        if not source.startswith((".", "/")) and source not in volumes:
            problems.append(f"{name}: volume {source!r} is not declared")
    command = service.get("command")
    if not isinstance(command, list) or not command:
        problems.append(f"{name}: command must be a non-empty list")
        continue
    sub = command[0]
    if sub not in helps:
        run = subprocess.run([binary, sub, "--help"], capture_output=True, text=True)
        if run.returncode != 0:
            problems.append(f"{name}: `datapunk {sub}` is not a subcommand")
            continue
        helps[sub] = run.stdout
    for arg in command[1:]:
        if arg.startswith("--") and arg not in helps[sub]:
            problems.append(f"{name}: `datapunk {sub}` has no flag {arg}")
if problems:
    sys.exit("deploy/docker-compose.yml:\n  " + "\n  ".join(problems))
print(f"{compose_path}: {len(services)} services check out")
