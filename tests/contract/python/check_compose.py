"""Checks docker-compose.yml and the Dockerfile without a Docker engine (CI has none).

1. docker-compose.yml is valid under the Compose Specification's JSON schema (check-jsonschema's
   copy of it, `vendor.compose-spec`), and has no obsolete top-level `version` key.
2. Its published ports bind to 127.0.0.1 only, and none takes the host's 5432, where a
   developer's own PostgreSQL may listen (`${VAR:-default}` is read with its default).
3. Every `depends_on` names a service, and every service built here has a Dockerfile.
4. The Dockerfile builds the dependencies in a layer of their own: a `cargo build` runs before
   the sources (`COPY src`) are copied in.

Usage: python check_compose.py REPOSITORY_ROOT  (exit status 1 names every problem)
"""

import os
import re
import subprocess
import sys

import yaml

problems = []


def expect(condition, message):
    if not condition:
        problems.append(message)


def with_defaults(text):
    """Compose's `${VAR:-default}` / `${VAR-default}`, read with the default."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", str(text))


def check_compose(root):
    path = os.path.join(root, "docker-compose.yml")
    schema = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "check-jsonschema"),
         "--builtin-schema", "vendor.compose-spec", path],
        capture_output=True, text=True,
    )
    expect(schema.returncode == 0, f"not a valid Compose file:\n{schema.stdout}{schema.stderr}")
    with open(path) as f:
        compose = yaml.safe_load(f)
    expect("version" not in compose, "the top-level `version` key is obsolete: drop it")
    services = compose.get("services") or {}
    expect(services, "no services")
    for name, service in services.items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip, published = port.get("host_ip", ""), with_defaults(port.get("published", ""))
            else:
                parts = with_defaults(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else ""
                published = parts[-2] if len(parts) >= 2 else ""
            expect(host_ip == "127.0.0.1", f"{name}: port {port!r} is published beyond 127.0.0.1")
            expect(published != "5432", f"{name}: port {port!r} takes the host's 5432")
        depends = service.get("depends_on") or []
        for other in depends if isinstance(depends, list) else depends.keys():
            expect(other in services, f"{name}: depends on `{other}`, which is not a service")
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            expect(os.path.isfile(os.path.join(root, context, dockerfile)), f"{name}: no {dockerfile} to build")


def check_dockerfile(root):
    with open(os.path.join(root, "Dockerfile")) as f:
        # Continuation lines joined, so each instruction is one line.
        lines = f.read().replace("\\\n", " ").splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    first_build = next((i for i, line in enumerate(instructions) if line.startswith("RUN") and "cargo build" in line), None)
    copy_src = next((i for i, line in enumerate(instructions) if re.match(r"COPY\s+src\b", line)), None)
    expect(first_build is not None and copy_src is not None, "the Dockerfile neither builds nor copies src/")
    if first_build is not None and copy_src is not None:
        expect(first_build < copy_src, "the Dockerfile builds the dependencies only after copying src/: no cached layer")
        expect(any("cargo build" in line for line in instructions[copy_src:]), "the Dockerfile never builds the service")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    check_compose(root)
    check_dockerfile(root)
    for problem in problems:
        print(f"docker files: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("docker-compose.yml and Dockerfile: ok")


if __name__ == "__main__":
    main()
