#!/usr/bin/env bash
# Debian packages the project needs at run time: real fonts for synthetic screens and
# tesseract for OCR of title and URL bars. Installs only what is missing.
set -euo pipefail
pkgs=(fonts-dejavu-core fonts-liberation2 tesseract-ocr tesseract-ocr-eng libtesseract-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "[system-deps] installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
