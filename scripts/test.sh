#!/usr/bin/env bash
# The test command: installs what is missing, then format check, lints,
# build, and every test (unit, property, end-to-end on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

export CARGO_TERM_COLOR=never
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked
# The scrap capture backend (the Windows/macOS path, off by default) builds,
# lints and captures here too.
cargo clippy -p lifeline-agent --features scrap --all-targets --locked -- -D warnings
cargo test -p lifeline-agent --features scrap --locked --test scrap
