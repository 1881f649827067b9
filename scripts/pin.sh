#!/usr/bin/env bash
# Re-resolve the dependency set and record exact versions with hashes (no download addresses).
# requirements.txt is what production installs; requirements-dev.txt adds the test and lint tools.
# pyproject's constraint-dependencies mirror the dev set so `uv run` resolves to the same pins.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--python-version 3.11 --generate-hashes --no-header --no-annotate --quiet)
uv pip compile pyproject.toml "${common[@]}" -o requirements.txt "$@"
uv pip compile pyproject.toml --group dev "${common[@]}" -o requirements-dev.txt "$@"
python3 - <<'PY'
import re, pathlib
pins = sorted(
    line.split()[0]
    for line in pathlib.Path("requirements-dev.txt").read_text().splitlines()
    if re.match(r"^[A-Za-z0-9]", line)
)
body = "".join(f'    "{p}",\n' for p in pins)
py = pathlib.Path("pyproject.toml")
text = re.sub(
    r"constraint-dependencies = \[[^\]]*\]",
    "constraint-dependencies = [\n" + body + "]",
    py.read_text(),
)
py.write_text(text)
PY
if grep -nE 'https?://' requirements.txt requirements-dev.txt; then
    echo "pin files must not record download addresses" >&2; exit 1
fi
