#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit, integration, end-to-end
# and browser tests. Installs what a fresh Debian machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# Every program the tests start (tests/support/src/programs.rs names them,
# and a test fails naming the package when one is missing).
install_missing "${BUILD_PACKAGES[@]}" procps mosquitto chromium chromium-driver
# The tests of several instances: a load balancer and a clustered broker.
install_missing haproxy rabbitmq-server
# The recorder's tests of several instances on one database.
install_missing postgresql
ensure_rust

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
# The library as crates.io would get it: packaged, and the package builds.
cargo package -p mqtt-actor --allow-dirty
cargo test --workspace
