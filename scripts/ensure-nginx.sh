#!/usr/bin/env bash
# Debian's nginx for the production recipe (scripts/production-recipe.sh); never started as
# a system service here (the recipe runs its own with its own configuration).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian's nginx for the production recipe..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light \
    >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
  exit 0
fi
echo "nginx is not installed: apt-get install nginx-light (Debian) and run this again." >&2
exit 1
