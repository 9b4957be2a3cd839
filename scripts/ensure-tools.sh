#!/usr/bin/env bash
# Installs, where missing and where we may (root with apt-get), the system tools the tests use:
# docker-compose (validates docker-compose.yml without a Docker engine) and chromium (SDK end-to-end).
set -euo pipefail
missing=()
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
[ -f sdk/package.json ] && ! command -v chromium >/dev/null 2>&1 && missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "please install: ${missing[*]} (the tests that need them will be skipped)" >&2
fi
