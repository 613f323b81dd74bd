#!/usr/bin/env bash
# Install the Debian packages the project needs, only those that are missing.
# Idempotent: when everything is present it does nothing and needs no network.
set -euo pipefail

# ---- Packages: "debian-package|shell test that succeeds when it is installed" ----
# Add more here (keep the presence check cheap and offline).
PACKAGES=(
  "python3.11|test -x /usr/bin/python3.11"
  "postgresql|compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null"
  "bubblewrap|command -v bwrap >/dev/null"
  "chromium|command -v chromium >/dev/null"
  "nodejs|command -v node >/dev/null"
  "npm|command -v npm >/dev/null"
  "rabbitmq-server|command -v rabbitmq-server >/dev/null"
  "docker.io|command -v dockerd >/dev/null"
  "mmdebstrap|command -v mmdebstrap >/dev/null"
  "docker-registry|command -v docker-registry >/dev/null"
  "libjs-mathjax|test -f /usr/share/javascript/mathjax/MathJax.js"
)
# ---------------------------------------------------------------------------------

missing=()
for entry in "${PACKAGES[@]}"; do
  pkg=${entry%%|*} check=${entry#*|}
  if eval "$check"; then
    echo "ok: $pkg"
  else
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "All system packages present."
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi

# Package post-install scripts try to start services (postgresql starts its default
# cluster); without an init system that can fail the install. A temporary policy-rc.d
# returning 101 tells invoke-rc.d not to start anything. Our tests run their own server.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  "${SUDO[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
