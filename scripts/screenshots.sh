#!/usr/bin/env bash
# Regenerates screenshots/ from the real app under Xvfb, with loopback peers sending GBK
# text (scripts/gbk_peer.py), using the app's own --screenshot option.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
BIN=target/release/sockscope
mkdir -p screenshots
N=98
while [ -e "/tmp/.X11-unix/X$N" ] || [ -e "/tmp/.X$N-lock" ]; do N=$((N + 1)); done
Xvfb ":$N" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true' EXIT
sleep 1
export DISPLAY=":$N" LIBGL_ALWAYS_SOFTWARE=1
common=(--no-persist --lang en)

# Server mode: three GBK clients connect and talk.
"$BIN" server 127.0.0.1:18989 "${common[@]}" --encoding gbk --view both \
  --screenshot screenshots/server.png --screenshot-delay 2500 &
APP=$!
sleep 0.8
python3 scripts/gbk_peer.py client 18989 3 &
wait $APP

# Client mode: a GBK server greets us; the view decodes as GBK.
python3 scripts/gbk_peer.py server 18990 &
sleep 0.5
"$BIN" client 127.0.0.1:18990 "${common[@]}" --encoding gbk \
  --screenshot screenshots/client.png --screenshot-delay 1500

# Compare mode: the same GBK bytes read as GBK and as UTF-8, byte by byte.
python3 scripts/gbk_peer.py server 18991 &
sleep 0.5
"$BIN" client 127.0.0.1:18991 "${common[@]}" --encoding utf-8 --compare \
  --screenshot screenshots/compare.png --screenshot-delay 1500

# The same window in Chinese.
python3 scripts/gbk_peer.py server 18992 &
sleep 0.5
"$BIN" client 127.0.0.1:18992 --no-persist --lang zh --encoding gbk --view both \
  --screenshot screenshots/client-zh.png --screenshot-delay 1500
# Several sessions in one window: a server, a client of it, and a UDP socket, one tab
# each; GBK clients talk to the server (the tab in front).
"$BIN" server 127.0.0.1:18993 --encoding gbk client 127.0.0.1:18993 --encoding gbk \
  udp 127.0.0.1:18994 "${common[@]}" \
  --screenshot screenshots/tabs.png --screenshot-delay 2500 &
APP=$!
sleep 0.8
python3 scripts/gbk_peer.py client 18993 2 &
wait $APP

# The light theme.
python3 scripts/gbk_peer.py server 18995 &
sleep 0.5
"$BIN" client 127.0.0.1:18995 "${common[@]}" --theme light --encoding gbk --view both \
  --screenshot screenshots/light.png --screenshot-delay 1500
ls -l screenshots
