#!/usr/bin/env bash
# Headless Chromium renders the HTML report in the tests. Installs Debian's chromium (and a
# CJK font so that Chinese renders) when it is missing and this user may install packages;
# otherwise says in one line what to install (the test then skips with a message).
set -u
if command -v chromium >/dev/null || [ -n "${CLOOP_CHROMIUM:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium for the HTML report test"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 ||
     { apt-get update -qq >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "note: chromium not installed (apt-get install chromium fonts-noto-cjk); the HTML report test will skip"
