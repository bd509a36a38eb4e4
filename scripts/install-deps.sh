#!/usr/bin/env bash
# Installs the system packages Lifeline's build, tests and demo need.
# Idempotent: does nothing when everything is present. Needs root for apt.
set -euo pipefail

# C headers for the X11 capture backend, and the X tools the tests drive.
PACKAGES=(
  build-essential pkg-config
  libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  xvfb xterm x11-utils x11-xserver-utils x11-apps xdotool netpbm xclip trayer
  # An X server that can change resolution at run time (the resize test).
  tigervnc-standalone-server
  # The viewer window (eframe/glow): Mesa's software GL through EGL/GLX on X11.
  libgl1-mesa-dri libegl1 libegl-mesa0 libgl1 libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "missing packages: ${missing[*]}; run this script as root" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
