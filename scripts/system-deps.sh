#!/usr/bin/env bash
# Debian packages the project needs. The demo: real fonts for synthetic screens, tesseract for
# OCR of title and URL bars, and a broad English word list for the tiny models' tokenizer
# (wamerican). The tests add a real X11 desktop with real applications for the capture agent's
# tests and the real-screens set (Xvfb, openbox, a private D-Bus session bus and dbus-x11, which most desktops have and the
# set must build beside, Chromium, LibreOffice,
# xterm + vim, Mousepad, Evince, mpv, two games) and openssl, and a headless Wayland desktop for
# the agent's Wayland backend: the sway compositor, grim (its screenshots) and Xwayland (xterm on
# it; Mousepad runs there as a Wayland client). Three more window managers with their themes for
# real screens as people have them (icewm, fluxbox, and xfwm4 with xfconf, which stores its theme).
# Usage: system-deps.sh [demo|test]          installs only what is missing (default: test)
#        system-deps.sh --list-missing WHAT  prints what is missing, installs nothing
set -euo pipefail
list_only=false
if [[ "${1:-}" == --list-missing ]]; then list_only=true; shift; fi
what="${1:-test}"
pkgs=(fonts-dejavu-core fonts-liberation2 tesseract-ocr tesseract-ocr-eng libtesseract-dev wamerican)
if [[ "$what" == test ]]; then
  pkgs+=(xvfb openbox dbus-daemon dbus-x11 chromium xterm vim mousepad evince mpv libreoffice-writer libreoffice-calc xboard
         xmahjongg openssl sway grim xwayland icewm fluxbox xfwm4 xfconf)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if $list_only; then
  echo "${missing[*]}"
  exit 0
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "[system-deps] installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
