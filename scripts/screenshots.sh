#!/usr/bin/env bash
# Regenerates screenshots/ from the real app under Xvfb, with loopback peers speaking GBK
# (scripts/gbk_peer.py), using the app's own --screenshot and --size options: every mode
# at the default size (1180x760) and at 1024x700, in English and in 简体中文.
#
# `scripts/screenshots.sh tls` takes only the TLS shot, `scripts/screenshots.sh frames`
# only the frames one; SOCKSCOPE_BIN=path uses that binary instead of building the
# release one.
set -euo pipefail
cd "$(dirname "$0")/.."
ONLY=${1:-all}
if [ -n "${SOCKSCOPE_BIN:-}" ]; then
  BIN=$SOCKSCOPE_BIN
else
  cargo build --release
  BIN=${CARGO_TARGET_DIR:-target}/release/sockscope
fi
mkdir -p screenshots
N=98
while [ -e "/tmp/.X11-unix/X$N" ] || [ -e "/tmp/.X$N-lock" ]; do N=$((N + 1)); done
Xvfb ":$N" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true' EXIT
sleep 1
export DISPLAY=":$N" LIBGL_ALWAYS_SOFTWARE=1
PORT=18980

# shot NAME SIZE LANG MODE [app options…]: MODE server (three GBK clients connect and
# talk), client (a GBK server greets us and echoes), udp (two GBK senders).
shot() {
  local name=$1 size=$2 lang=$3 mode=$4
  shift 4
  PORT=$((PORT + 1))
  local common=(--no-persist --lang "$lang" --size "$size"
    --screenshot "screenshots/$name.png" --screenshot-delay 3000)
  case $mode in
    server)
      "$BIN" server "127.0.0.1:$PORT" "${common[@]}" "$@" &
      local app=$!
      sleep 0.8
      python3 scripts/gbk_peer.py client "$PORT" 3 &
      wait $app
      ;;
    client)
      python3 scripts/gbk_peer.py server "$PORT" &
      sleep 0.5
      "$BIN" client "127.0.0.1:$PORT" "${common[@]}" "$@"
      ;;
    udp)
      "$BIN" udp "127.0.0.1:$PORT" "${common[@]}" "$@" &
      local app=$!
      sleep 0.8
      python3 scripts/gbk_peer.py udp "$PORT" 24 &
      wait $app
      ;;
  esac
}

if [ "$ONLY" = all ]; then
for lang in en zh; do
  suffix=""
  [ "$lang" = zh ] && suffix="-zh"
  shot "server$suffix" 1180x760 "$lang" server --encoding gbk --view both
  shot "client$suffix" 1180x760 "$lang" client --encoding gbk
  shot "udp$suffix" 1180x760 "$lang" udp --encoding gbk
  shot "server-1024$suffix" 1024x700 "$lang" server --encoding gbk
  shot "client-1024$suffix" 1024x700 "$lang" client --encoding gbk
  shot "udp-1024$suffix" 1024x700 "$lang" udp --encoding gbk
done
# The same GBK bytes read as GBK and as UTF-8, byte by byte, with the verdict.
shot compare 1180x760 en client --encoding utf-8 --compare
shot light 1180x760 en client --theme light --encoding gbk --view both

# Several sessions in one window: a server, a client of it, and a UDP socket, one tab
# each; GBK clients talk to the server (the tab in front).
PORT=$((PORT + 1))
"$BIN" server "127.0.0.1:$PORT" --encoding gbk client "127.0.0.1:$PORT" --encoding gbk \
  udp "127.0.0.1:$((PORT + 1))" --no-persist --lang en --size 1180x760 \
  --screenshot screenshots/tabs.png --screenshot-delay 2500 &
APP=$!
sleep 0.8
python3 scripts/gbk_peer.py client "$PORT" 2 &
wait $APP

# UDP with two multicast groups joined from the command line and a sender on 127.0.0.1
# sending to one of them; the Advanced pop-up, clicked open with xdotool when it is
# installed, lists the groups with their state and per-group counts (Linux).
PORT=$((PORT + 1))
"$BIN" udp "0.0.0.0:$PORT" --join 239.255.1.2@127.0.0.1 --join 239.255.1.3@lo --ttl 2 \
  --no-persist --lang en --size 1024x700 \
  --screenshot screenshots/udp-multicast-1024.png --screenshot-delay 4000 &
APP=$!
sleep 1
python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
for i in range(3):
    s.sendto(f"sensor {i}: 温度=21.{i}".encode(), ("239.255.1.2", int(sys.argv[1])))
    time.sleep(0.2)
PY
if command -v xdotool >/dev/null; then
  WIN=$(xdotool search --sync --name '^Sockscope' | head -1)
  xdotool mousemove --window "$WIN" 750 42 click 1
fi
wait $APP

# A client with --reconnect against a port nobody listens on: the attempts and the
# growing waits, in the view and the status line.
"$BIN" client 127.0.0.1:1 --reconnect --no-persist --lang en --size 1024x700 \
  --screenshot screenshots/client-reconnecting-1024.png --screenshot-delay 5000
fi

# A TLS client against `openssl s_server` (a peer we did not write) with a certificate
# made by `openssl req -x509`, set up by clicking as a user would (xdotool, 1024x700):
# the tab starts as a plain client of a port nobody listens on yet, the view is
# cleared, TLS is ticked on the connection row, "Accept any certificate" in Advanced,
# then Connect; a line goes each way and the handshake record is clicked, so the
# detail pane shows it whole (protocol, cipher suite, certificate, SHA-256, trust).
if { [ "$ONLY" = all ] || [ "$ONLY" = tls ]; } &&
  command -v openssl >/dev/null && command -v xdotool >/dev/null; then
  PORT=$((PORT + 1))
  TLSDIR=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=device.local/O=Example Devices" \
    -addext "subjectAltName=DNS:device.local,IP:127.0.0.1" \
    -keyout "$TLSDIR/key.pem" -out "$TLSDIR/cert.pem" 2>/dev/null
  "$BIN" client "127.0.0.1:$PORT" --no-persist --lang en --size 1024x700 \
    --screenshot screenshots/tls-client-1024.png --screenshot-delay 16000 &
  APP=$!
  WIN=$(xdotool search --sync --pid "$APP" | head -1)
  sleep 3
  (sleep 7; printf 'HTTP/1.0 200 OK from openssl s_server\r\n'; sleep 20) |
    openssl s_server -accept "127.0.0.1:$PORT" -cert "$TLSDIR/cert.pem" \
      -key "$TLSDIR/key.pem" -quiet >/dev/null 2>&1 &
  SSERVER=$!
  xdotool windowfocus --sync "$WIN"
  click() { xdotool mousemove --window "$WIN" "$1" "$2" click 1; sleep "${3:-0.6}"; }
  click 89 119          # Clear (the refused attempt)
  click 637 42          # TLS
  click 790 42 1        # Advanced …
  click 455 349         # Accept any certificate
  click 300 300         # close the pop-up
  click 709 42 2        # Connect
  click 480 578 0.3     # the compose box
  xdotool type --window "$WIN" 'GET /status HTTP/1.0\r\n'
  xdotool key --window "$WIN" ctrl+Return
  sleep 4
  click 400 188         # the handshake record
  wait "$APP"
  kill "$SSERVER" 2>/dev/null || true
  rm -rf "$TLSDIR"
fi

# Frames with fields and one bad CRC (1024x700), set up by clicking as a user would: a
# client of a small Modbus RTU-over-TCP device (scripts/modbus_device.py: registers
# 200 + 5·i, every third answer with a wrong CRC); in the Frames tab the Modbus RTU
# preset, its second field made "temperature" (register 3 at byte 9, scale 0.1, °C),
# Apply; a read request typed as hex and sent five times; a good frame selected, so
# the rows show field values and the bad CRC in words, the detail pane the field
# table, the Frames tab the counts and round trips, the status bar the last RTT.
if { [ "$ONLY" = all ] || [ "$ONLY" = frames ]; } && command -v xdotool >/dev/null; then
  PORT=$((PORT + 1))
  python3 scripts/modbus_device.py "$PORT" 15 3 &
  DEVICE=$!
  sleep 0.5
  "$BIN" client "127.0.0.1:$PORT" --no-persist --lang en --size 1024x700 \
    --screenshot screenshots/frames-1024.png --screenshot-delay 16000 &
  APP=$!
  WIN=$(xdotool search --sync --pid "$APP" | head -1)
  sleep 3
  xdotool windowfocus --sync "$WIN"
  click() { xdotool mousemove --window "$WIN" "$1" "$2" click 1; sleep "${3:-0.6}"; }
  # type_in X Y TEXT: replaces the text of the field at X Y.
  type_in() { click "$1" "$2" 0.3; xdotool key --window "$WIN" ctrl+a; xdotool type --window "$WIN" "$3"; sleep 0.3; }
  click 929 94          # Frames
  click 800 126         # Definition …
  click 836 176         # Modbus RTU (CRC-16)
  type_in 840 426 temperature
  type_in 785 450 9     # at byte
  type_in 776 496 0.1   # scale
  type_in 933 496 C     # unit: °C (xdotool types the degree sign by its keysym)
  xdotool key --window "$WIN" Home degree
  click 717 172         # Apply
  click 735 268         # fold the fields away: the round trips show
  click 173 540         # compose as hex
  click 480 578 0.3     # the compose box
  xdotool type --window "$WIN" '01 03 00 00 00 04 44 09'
  for _ in 1 2 3 4 5; do xdotool key --window "$WIN" ctrl+Return; sleep 0.5; done
  sleep 0.5
  click 300 234         # a good frame: its field table
  wait "$APP"
  kill "$DEVICE" 2>/dev/null || true
fi

# The Plot panel (1024x700): a client of a Modbus RTU device (scripts/modbus_pusher.py)
# that pushes answers every 0.2 s with register 0 drifting like a temperature and
# register 1 stepping; clicked as a user would: Frames tab, the Modbus RTU preset,
# Apply, then the Plot tab, which shows both registers and the receive rate.
if { [ "$ONLY" = all ] || [ "$ONLY" = plot ]; } && command -v xdotool >/dev/null; then
  PORT=$((PORT + 1))
  python3 scripts/modbus_pusher.py "$PORT" 60 &
  DEVICE=$!
  sleep 0.5
  "$BIN" client "127.0.0.1:$PORT" --no-persist --lang en --size 1024x700 \
    --screenshot screenshots/plot-1024.png --screenshot-delay 30000 &
  APP=$!
  WIN=$(xdotool search --sync --pid "$APP" | head -1)
  sleep 3
  xdotool windowfocus --sync "$WIN"
  click() { xdotool mousemove --window "$WIN" "$1" "$2" click 1; sleep "${3:-0.6}"; }
  click 929 94          # Frames
  click 800 126         # Definition …
  click 836 176         # Modbus RTU (CRC-16)
  click 717 172         # Apply
  click "${PLOT_TAB_X:-985}" 94   # Plot
  xdotool mousemove --window "$WIN" 20 400   # off the plot: no cursor label
  wait "$APP"
  kill "$DEVICE" 2>/dev/null || true
fi
ls -l screenshots
