# Sourced by scripts/check, scripts/test and scripts/demo: make sure .venv exists
# and matches pyproject.toml and setup.py, then put it first on PATH. Needs only python3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACCTPIPE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
stamp_of() {
    "$PY" - "$ROOT/pyproject.toml" "$ROOT/setup.py" <<'PYEOF'
import hashlib, sys
data = b"".join(open(p, "rb").read() for p in sys.argv[1:])
print(hashlib.sha256(data + sys.version.encode()).hexdigest())
PYEOF
}
want="$(stamp_of)"
have="$(cat "$VENV/.acctpipe-stamp" 2>/dev/null || true)"
if [ ! -x "$VENV/bin/python" ] || [ "$want" != "$have" ]; then
    echo "acctpipe: preparing $VENV (first run, or pyproject.toml changed)..." >&2
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT" --group "$ROOT/pyproject.toml:dev"
    echo "$want" > "$VENV/.acctpipe-stamp"
fi
# flufl.bounce's own test messages (in its sdist, not its wheel) are an extra
# corpus for tests/classifiers/test_flufl_corpus.py: fetch them once per venv.
if [ ! -d "$VENV/share/flufl-bounce-sdist" ]; then
    "$VENV/bin/python" - "$VENV" <<'PYEOF' || echo "acctpipe: could not fetch flufl.bounce test data (its test will skip)" >&2
import subprocess, sys, tarfile, tempfile
from importlib.metadata import version
from pathlib import Path
venv = Path(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "download", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--no-binary", ":all:",
                    f"flufl.bounce=={version('flufl.bounce')}", "-d", tmp], check=True)
    (sdist,) = Path(tmp).glob("*.tar.gz")
    dest = venv / "share" / "flufl-bounce-sdist"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        for m in members:
            m.name = m.name.split("/tests/", 1)[1]
        tar.extractall(dest / "tests", members=members, filter="data")
PYEOF
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
