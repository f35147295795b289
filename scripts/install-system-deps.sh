#!/usr/bin/env bash
# Installs the Debian packages the local environment runs: the CNCF distribution registry, Prometheus, skopeo
# (an independent registry client the tests check digests with), openssl (the per-run CA) and unzip (the package
# tests read the .vsix), squid (the agent's corporate proxy in the tests) and git (the bare repositories behind the
# Azure Repos emulator, served by git http-backend; git merge-tree --write-tree needs 2.38 or later).
set -euo pipefail
. "$(dirname "$0")/apt-missing.sh"
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v prometheus >/dev/null || need+=(prometheus)
command -v skopeo >/dev/null || need+=(skopeo)
command -v openssl >/dev/null || need+=(openssl)
command -v unzip >/dev/null || need+=(unzip)
command -v squid >/dev/null || need+=(squid)
command -v git >/dev/null || need+=(git)
[ ${#need[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }
apt_install_missing "system packages" "${need[@]}"
# The Debian packages start their services where an init system runs; the environment starts its own instances.
for svc in docker-registry prometheus prometheus-node-exporter squid; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
