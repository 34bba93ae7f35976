# shellcheck shell=bash
# Shared by deploy/local/demo and deploy/local/test (sourced, not run).
# Builds the operator CLI and brings the local stack up with topics and
# schema in place.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1

require() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "error: $1 is required: $2" >&2
        exit 1
    }
}

require cargo "install Rust with rustup (https://rustup.rs)"
require mvn "install Maven (apt-get install maven)"

# Installs Debian packages whose commands are missing (tests need a real
# MQTT broker for the Frigate bridge).
ensure_commands() {
    local missing=()
    for spec in "$@"; do
        command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "==> installing ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# Brings the stack up (a no-op if it runs) and runs `vigilctl setup`, which
# creates the topics and applies the CQL migrations idempotently.
stack_up_with_schema() {
    echo "==> building vigilctl"
    cargo build --quiet -p vigilctl
    export VIGIL_STACK_SETUP="$root/target/debug/vigilctl setup"
    "$root/deploy/local/stack" up
}
