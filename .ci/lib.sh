# Shared by the .ci parts: installs missing Debian packages and rustup targets, and
# finds a free X display. Sourced, not run.

export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=never

# apt_need PKG...: installs the packages that are not installed yet.
apt_need() {
  local missing=""
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "== installing:$missing"
    if [ -z "${APT_UPDATED:-}" ]; then
      apt-get update -qq
      export APT_UPDATED=1
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
}

# target_need TRIPLE...: adds the rustup targets that are missing.
target_need() {
  local installed
  installed=$(rustup target list --installed)
  for t in "$@"; do
    if ! grep -qx "$t" <<<"$installed"; then
      echo "== rustup target add $t"
      rustup target add "$t" >/dev/null
    fi
  done
}

# free_display: prints the first X display number nobody is using.
free_display() {
  local n=${1:-97}
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do
    n=$((n + 1))
  done
  echo "$n"
}

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runtime libraries for the real window (Mesa software GL under Xvfb) and Python peers.
WINDOW_PKGS="xvfb xauth libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 python3"
