#!/usr/bin/env bash
# Checks the machine before anything is built, and says in one line per problem what to install.
# Usage: preflight.sh demo|test   (what `make demo` / `make test` need; both need the first part)
# Nothing is installed here; the Makefile's targets install what they can (the Python packages,
# the Debian packages with root or sudo, the servers from the registries) once this passes.
set -uo pipefail
what="${1:-test}"
PYTHON="${PYTHON:-python3}"
CACHE="${ONTASK_CACHE:-$HOME/.cache/ontask}"
problems=()
need() { problems+=("$1"); }

# Python 3.11 (the lock pins wheels built for it; pyproject says >=3.11,<3.12), with venv and
# ensurepip (Debian splits them into python3-venv).
if ! "$PYTHON" -c 'import sys' >/dev/null 2>&1; then
  need "$PYTHON does not run: install Python 3.11 (Debian bookworm: apt install python3 python3-venv), or pass PYTHON=/path/to/python3.11"
elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  need "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'): ontask needs 3.11, which its lock pins wheels for (install python3.11 and pass PYTHON=python3.11)"
elif ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need "$PYTHON cannot make a virtual environment: install python3-venv (Debian: apt install python3-venv)"
fi

# Kafka (the demo sends its corrections through a real broker): a JVM and Maven for its jars.
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null 2>&1; then
  need "no java: Kafka needs Java 17 or newer (Debian: apt install openjdk-17-jre-headless)"
elif [[ "$(java_major)" -lt 17 ]]; then
  need "java is version $(java_major): Kafka needs 17 or newer (Debian: apt install openjdk-17-jre-headless)"
fi
if [[ ! -f "$CACHE/kafka-4.0.1/.complete" ]] && ! command -v mvn >/dev/null 2>&1; then
  need "no mvn: Kafka's jars come from Maven Central through Maven (Debian: apt install maven)"
fi

# The real servers of the tests are built from the Go module proxy; SeaweedFS needs Go 1.26,
# which an older Go fetches itself as a toolchain module unless GOTOOLCHAIN=local.
if [[ "$what" == test ]]; then
  if ! command -v go >/dev/null 2>&1; then
    need "no go: the test servers are built with Go 1.24 or newer (https://go.dev/dl, or Debian's golang-go)"
  else
    gov="$(go env GOVERSION | sed 's/^go//')"
    minor="$(echo "$gov" | cut -d. -f2)"
    if [[ "$(echo "$gov" | cut -d. -f1)" -lt 1 || "$minor" -lt 24 ]]; then
      need "go is $gov: the test servers need Go 1.24 or newer (https://go.dev/dl)"
    elif [[ "$minor" -lt 26 && "$(go env GOTOOLCHAIN)" == local ]]; then
      need "go is $gov with GOTOOLCHAIN=local: SeaweedFS needs Go 1.26 (install it, or unset GOTOOLCHAIN so Go fetches it)"
    fi
  fi
fi

# Debian packages (scripts/system-deps.sh) need root or sudo when some are missing.
if [[ $(id -u) -ne 0 ]] && ! sudo -n true >/dev/null 2>&1; then
  missing="$(bash "$(dirname "$0")/system-deps.sh" --list-missing "$what")"
  [[ -n "$missing" ]] && need "not root and no passwordless sudo: install these Debian packages first: $missing"
fi

# Disk: what is not built yet (measured on a fresh build: the venv 6 GB, the Go builds of the
# servers 10 GB, the real-screens set and the demo's run well under 1 GB).
gb=1
compgen -G "$CACHE/venv-*/.complete" >/dev/null || gb=$((gb + 7))
if [[ "$what" == test && ! -x "$CACHE/bin/kube-apiserver" ]]; then gb=$((gb + 11)); fi
mkdir -p "$CACHE" 2>/dev/null
free_gb=$(( $(df -Pk "$CACHE" | awk 'NR==2 {print $4}') / 1024 / 1024 ))
if [[ "$free_gb" -lt "$gb" ]]; then
  need "$free_gb GB free under $CACHE, about $gb GB needed for what is not built yet: free some space or set ONTASK_CACHE to a larger disk"
fi

if [[ ${#problems[@]} -gt 0 ]]; then
  echo "[preflight] make $what cannot run on this machine yet:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
