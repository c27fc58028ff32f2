#!/usr/bin/env bash
# Debian packages the project needs: real fonts for synthetic screens, tesseract for OCR of title
# and URL bars, and a real X11 desktop with real applications for the capture agent's tests and
# the real-screens set (Xvfb, openbox, Chromium, LibreOffice, xterm + vim, Mousepad, Evince, mpv,
# two games), and a broad English word list for the tiny models' tokenizer (wamerican).
# Installs only what is missing.
set -euo pipefail
pkgs=(fonts-dejavu-core fonts-liberation2 tesseract-ocr tesseract-ocr-eng libtesseract-dev
      xvfb openbox chromium xterm vim mousepad evince mpv libreoffice-writer libreoffice-calc xboard xmahjongg
      openssl wamerican)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "[system-deps] installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
