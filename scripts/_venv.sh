# Sourced by scripts/check, scripts/test and scripts/demo: make sure .venv exists
# and matches pyproject.toml, then put it first on PATH. Needs only python3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACCTPIPE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
stamp_of() {
    "$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
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
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
