"""The dashboard's chart library is kept in the repository, so that any install (`pip install .`, a wheel, the
image) serves the whole page without npm. This script keeps that copy honest against web/package-lock.json.

    python web/vendor.py update   # `make vendor`: fetch the pinned tarballs, write the files and web/vendor.json
    python web/vendor.py check    # `make vendor-check`: fetch them again and compare every byte

Both fetch each pinned package's tarball with `npm pack` (the registry, no node_modules), and refuse a tarball
whose sha512 is not the lockfile's `integrity`. web/vendor.json records each copied file's own sha256, so the
tests can check the committed files against the pin without the network.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "web" / "package-lock.json"
MANIFEST = ROOT / "web" / "vendor.json"
VENDOR = "engagement_svc/dashboard/static/vendor/"
# What is copied: (npm package, file in its tarball, where it goes). chart.umd.js bundles @kurkle/color (MIT),
# so its licence ships beside Chart.js's.
FILES = [
    ("chart.js", "dist/chart.umd.js", VENDOR + "chart.umd.js"),
    ("chart.js", "LICENSE.md", VENDOR + "chart.js.LICENSE.md"),
    ("@kurkle/color", "LICENSE.md", VENDOR + "kurkle-color.LICENSE.md"),
]


def pinned() -> dict[str, dict]:
    """Each package's lockfile entry (version and integrity)."""
    packages = json.loads(LOCK.read_text())["packages"]
    return {name: packages[f"node_modules/{name}"] for name in {name for name, _, _ in FILES}}


def fetch(name: str, entry: dict, folder: str) -> tarfile.TarFile:
    """The pinned tarball from the registry, refused unless its sha512 is the lockfile's integrity."""
    spec = f"{name}@{entry['version']}"
    out = subprocess.run(
        ["npm", "pack", spec, "--ignore-scripts", "--json", "--silent", "--pack-destination", folder],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = (Path(folder) / json.loads(out)[0]["filename"]).read_bytes()
    algorithm, expected = entry["integrity"].split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{spec}: the tarball's {algorithm} is {actual}, the lockfile pins {expected}")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def pinned_files() -> list[dict]:
    """Every copied file as the pinned tarballs hold it: package, version, path, target, bytes."""
    entries, out = pinned(), []
    with tempfile.TemporaryDirectory(prefix="engagement-vendor-") as folder:
        tarballs = {name: fetch(name, entry, folder) for name, entry in entries.items()}
        for name, path, target in FILES:
            member = tarballs[name].extractfile("package/" + path)
            if member is None:
                raise SystemExit(f"{name}: no file {path} in its tarball")
            out.append(
                {
                    "package": name,
                    "version": entries[name]["version"],
                    "path": path,
                    "to": target,
                    "data": member.read(),
                }
            )
    return out


def update() -> None:
    files = pinned_files()
    for item in files:
        target = ROOT / item["to"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item["data"])
    manifest = {
        "why": "The vendored files' own sha256, beside the versions pinned in package-lock.json: the tests check "
        "the committed files against them offline; `make vendor-check` compares the bytes with the registry's.",
        "files": [
            {**{k: v for k, v in item.items() if k != "data"}, "sha256": hashlib.sha256(item["data"]).hexdigest()}
            for item in files
        ],
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {len(files)} files; recorded in {MANIFEST.relative_to(ROOT)}")


def check() -> None:
    recorded = {item["to"]: item for item in json.loads(MANIFEST.read_text())["files"]}
    problems = []
    for item in pinned_files():
        committed = (ROOT / item["to"]).read_bytes()
        if committed != item["data"]:
            problems.append(f"{item['to']} differs from {item['package']}@{item['version']}'s {item['path']}")
        entry = recorded.get(item["to"], {})
        if entry.get("sha256") != hashlib.sha256(item["data"]).hexdigest() or entry.get("version") != item["version"]:
            problems.append(f"web/vendor.json's entry for {item['to']} does not match the pinned package")
    if problems:
        raise SystemExit("\n".join(problems) + "\nrun `make vendor` to refresh them")
    print(f"the {len(recorded)} vendored files are byte-identical to the pinned npm packages")


if __name__ == "__main__":
    commands = {"update": update, "check": check}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: {sys.argv[0]} update|check")
    commands[sys.argv[1]]()
