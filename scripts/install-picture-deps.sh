#!/usr/bin/env bash
# Installs what `npm run pictures` needs besides the local environment: Debian's Chromium (headless, to render the
# summaries as the pipeline shows them), the fonts it draws them with, and pngquant to make the pictures small. Not
# needed by the tests.
set -euo pipefail
. "$(dirname "$0")/apt-missing.sh"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pngquant >/dev/null || need+=(pngquant)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
apt_install_missing "picture packages" "${need[@]}"
