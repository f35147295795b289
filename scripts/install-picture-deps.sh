#!/usr/bin/env bash
# Installs what `npm run pictures` needs besides the local environment: Debian's Chromium (headless, to render the
# summaries as the pipeline shows them) and the fonts it draws them with. Not needed by the tests.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
if [ ${#need[@]} -eq 0 ]; then
  echo "picture packages: all present"
  exit 0
fi
echo "installing: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
