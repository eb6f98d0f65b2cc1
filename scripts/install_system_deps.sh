#!/usr/bin/env bash
# Install the Debian packages in binder/apt.txt when they are missing. Idempotent: a machine that has
# them all returns at once. Where apt is unavailable or not permitted, print exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t packages < <(grep -vE '^\s*(#|$)' binder/apt.txt)

# A fresh Debian Python lacks venv (the Makefile makes .venv with it).
python3 -m venv --help >/dev/null 2>&1 || packages+=("python3-venv")

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  # Not Debian: check the programs themselves and say what they are.
  for tool in ffmpeg espeak-ng flite fluidsynth sox; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "This is not a Debian/Ubuntu system. Please install these programs with your package manager:" >&2
    echo "  ${missing[*]}" >&2
    echo "plus General MIDI soundfonts (FluidR3_GM.sf2, TimGM6mb.sf2 in /usr/share/sounds/sf2/) and the" >&2
    echo "tuxpaint stamps (/usr/share/tuxpaint/stamps). On conda: conda install -c conda-forge ffmpeg sox fluidsynth" >&2
    exit 1
  fi
  exit 0
fi

[ ${#missing[@]} -eq 0 ] && exit 0
echo "System packages to install: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "Cannot install them: not root, and sudo needs a password or is absent. Please run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "then run make again." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed: ${missing[*]}"
