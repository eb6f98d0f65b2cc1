#!/usr/bin/env bash
# Install the headless browser that tests/test_browser.py drives: Debian's chromium and chromium-driver
# (one source package, so the browser and its driver always have the same version). Idempotent: a
# machine that has both returns at once. Only the tests need them, so they are not in binder/apt.txt.
# Where they cannot be installed (not Debian, not root and no sudo), print what to install; that is a
# failure under CI (CI=true), where the browser test must run, and a warning elsewhere (the test then
# skips).
set -euo pipefail
packages=(chromium chromium-driver)

ci() { case "${CI:-}" in 1|true|TRUE|True|yes) return 0 ;; *) return 1 ;; esac; }
give_up() {  # message...
  printf '%s\n' "$@" >&2
  if ci; then exit 1; fi
  echo "(not CI: continuing; tests/test_browser.py will be skipped)" >&2
  exit 0
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && exit 0
  give_up "Not a Debian/Ubuntu system: install Chromium and a chromedriver of the same version" \
          "(e.g. brew install --cask chromium chromedriver), on PATH as chromium and chromedriver," \
          "or point CHROMIUM and CHROMEDRIVER at them."
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Browser packages to install (for tests/test_browser.py): ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  give_up "Cannot install them: not root, and sudo needs a password or is absent. Please run:" \
          "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; an old list may name versions the mirror no longer has.
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  give_up "apt-get could not install ${missing[*]}. On Ubuntu these names are snap wrappers, which do" \
          "not work in containers: install Debian's chromium or Google Chrome with its chromedriver, and" \
          "point CHROMIUM and CHROMEDRIVER at them."
fi
echo "Installed: ${missing[*]} ($(chromium --version 2>/dev/null || echo chromium))"
