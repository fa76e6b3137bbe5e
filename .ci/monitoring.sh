#!/usr/bin/env bash
# CI step for monitoring/ (called by .ci/run): installs promtool and amtool from the Debian
# packages when they are missing, then runs `npm run check-monitoring`, which checks the
# Prometheus config, alert rules and their unit tests, the Alertmanager config and routing, the
# Grafana dashboard and the collector config, and compares every metric name they use with what a
# freshly started app exports on :8000/metrics and :9000/metrics.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (for promtool / amtool)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  # the packages' services must not start inside CI containers
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
promtool --version | head -n 1
amtool --version | head -n 1

npm run --silent check-monitoring
