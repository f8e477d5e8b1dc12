#!/usr/bin/env bash
# Makes the CurveZMQ keys that kustomization.yaml turns into Secrets:
# keys/coordinator.{key,pub} and keys/worker.{key,pub} (hpo-keygen; the
# secret halves mode 0600). Existing keys are kept.
# Usage: scripts/k8s/make-keys.sh [HPO_KEYGEN]   (default: hpo-keygen on PATH)
set -euo pipefail
keygen=${1:-hpo-keygen}
keys=$(cd "$(dirname "$0")" && pwd)/keys
mkdir -p "$keys"
for name in coordinator worker; do
  if [ -e "$keys/$name.key" ]; then
    echo "make-keys: $keys/$name.key exists; kept"
  else
    "$keygen" --out "$keys/$name"
  fi
done
echo "make-keys: done; now: kubectl apply -k $(dirname "$keys")"
