#!/usr/bin/env bash
# The Debian packages Spate builds with, installed when missing: protoc (Spark Connect's
# messages), mold (linking), and OpenSSL, zlib, pkg-config and make for librdkafka, which the
# rdkafka crate builds from source for the Kafka source and sink; and Chromium, which the web
# UI's browser tests drive through Playwright (python/tests/test_ui.py).
set -euo pipefail
PACKAGES="protobuf-compiler mold libssl-dev zlib1g-dev pkg-config make chromium"
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq $PACKAGES >/dev/null
fi
