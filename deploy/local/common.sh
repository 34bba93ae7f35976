# Shared by deploy/local/demo and deploy/local/test (sourced, not run).
# Builds the operator CLI and brings the local stack up with topics and
# schema in place.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

require() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "error: $1 is required: $2" >&2
        exit 1
    }
}

require cargo "install Rust with rustup (https://rustup.rs)"
require mvn "install Maven (apt-get install maven)"

# Brings the stack up (a no-op if it runs) and runs `vigilctl setup`, which
# creates the topics and applies the CQL migrations idempotently.
stack_up_with_schema() {
    echo "==> building vigilctl"
    cargo build --quiet -p vigilctl
    export VIGIL_STACK_SETUP="$root/target/debug/vigilctl setup"
    "$root/deploy/local/stack" up
}
