"""Dependency audit (`make audit`): pip-audit over pinned requirements; fails on known vulnerabilities with a fix.

pip-audit exits 0 when it could not audit a package at all (it only warns "Dependency not found on PyPI"), so a
machine without its vulnerability service would pass silently. This wrapper reads pip-audit's JSON report instead:
a vulnerability with a fixed release fails the build; a known one without a fix is printed; what could not be
audited is reported loudly and does not fail the build (a network problem is not a vulnerability) unless
REQUIRE_AUDIT=1.

Usage: python .ci/audit.py [--ignore ID ...] requirements.txt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

TIMEOUT = 15
BANNER = "!" * 100


def read_pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file (and of the files it includes with -r)."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins.update(read_pins(path.parent / line.split(None, 1)[1]))
        elif "==" in line:
            name, version = line.split(";", 1)[0].split("==", 1)
            pins[canonicalize_name(name.split("[", 1)[0])] = version.strip()
        elif line and not line.startswith("-"):
            sys.exit(f"audit: {path}: '{line}' is not pinned with ==; pin every requirement to audit it")
    return pins


def run_pip_audit(requirements: Path, ignore: list[str]) -> tuple[dict[str, list[dict]], dict[str, str], str]:
    """Vulnerabilities per audited pin, the reason per pin pip-audit skipped, and why pip-audit failed (or "")."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "pip-audit.json"
        # Every pin is exact (transitive ones included), so no resolver is needed: --no-deps --disable-pip.
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps"]
        command += ["--disable-pip", "--progress-spinner", "off", "--timeout", str(TIMEOUT)]
        command += ["--format", "json", "--output", str(report)]
        for vulnerability in ignore:
            command += ["--ignore-vuln", vulnerability]
        try:
            process = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return {}, {}, "pip-audit did not finish within 300 s"
        if not report.exists():
            last = (process.stderr.strip().splitlines() or [f"exit code {process.returncode}"])[-1]
            return {}, {}, f"pip-audit failed: {last}"
        dependencies = json.loads(report.read_text())["dependencies"]
    audited = {canonicalize_name(d["name"]): d["vulns"] for d in dependencies if "vulns" in d}
    skipped = {canonicalize_name(d["name"]): d["skip_reason"] for d in dependencies if "skip_reason" in d}
    return audited, skipped, ""


def has_fix(version: str, vulnerability: dict) -> bool:
    def parse(text: str) -> Version | None:
        try:
            return Version(text)
        except InvalidVersion:
            return None

    pinned = parse(version)
    fixes = [parse(fix) for fix in vulnerability.get("fix_versions", [])]
    return any(fix is not None and (pinned is None or fix > pinned) for fix in fixes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", type=Path)
    parser.add_argument("--ignore", action="append", default=[], help="a vulnerability id to accept (repeatable)")
    args = parser.parse_args()

    pins = read_pins(args.requirements)
    audited, skipped, failure = run_pip_audit(args.requirements, args.ignore)
    if failure:
        print(f"audit: {failure}")
    unaudited = {
        name: skipped.get(name, failure or "not in pip-audit's report") for name in pins if name not in audited
    }

    fixable = 0
    for name, vulnerabilities in sorted(audited.items()):
        for vulnerability in vulnerabilities:
            fix = has_fix(pins.get(name, ""), vulnerability)
            fixable += fix
            aliases = ", ".join(vulnerability.get("aliases", []))
            fixed_in = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed release"
            label = "VULNERABLE" if fix else "known, no fix yet"
            print(f"audit: {label}: {name}=={pins.get(name)} {vulnerability['id']} ({aliases}); fixed in {fixed_in}")

    print(
        f"audit: {len(audited)} of {len(pins)} pins of {args.requirements} audited by pip-audit; "
        f"{fixable} known vulnerabilities with a fixed release; {len(unaudited)} not audited"
    )
    if fixable:
        print("audit: FAILED: upgrade the pins above to a fixed release (or accept one with AUDIT_IGNORE=ID)")
        return 1
    if unaudited:
        print(BANNER)
        if not audited:
            print("!! NOTHING WAS AUDITED: pip-audit's vulnerability service did not answer for any pin.")
            print("!! That is a network problem, not a pass.")
        print(f"!! {len(unaudited)} of {len(pins)} pinned packages were NOT audited for known vulnerabilities:")
        for name, reason in sorted(unaudited.items()):
            print(f"!!   {name}=={pins[name]}: {reason}")
        print("!! Run `make audit` where pip-audit reaches PyPI's JSON API; REQUIRE_AUDIT=1 makes this a failure.")
        print(BANNER)
        if os.environ.get("REQUIRE_AUDIT") == "1":
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
