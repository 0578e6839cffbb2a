#!/usr/bin/env bash
# Runs the example app: the dashboard on http://127.0.0.1:5000, on an embedded
# MQTT broker unless MQTT_BROKER_URL is set. Installs what a fresh Debian
# machine lacks. Extra arguments go to the app (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing "${BUILD_PACKAGES[@]}" mosquitto-clients
ensure_rust
exec cargo run --release -p example-app -- "$@"
