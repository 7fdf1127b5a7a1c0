# Shell helpers of the browser check drivers (run.sh, play_check.sh, abr_check.sh).
# Usage: . "$HERE/lib.sh"   (HERE = this directory)

# ensure_browser KEY: playwright-core installed (npm ci here if missing) and Chromium present;
# otherwise prints {"KEY":false,"errors":[...]} and exits 2.
ensure_browser() {
  if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "{\"$1\":false,\"errors\":[\"npm ci failed in tests/browser\"]}"; exit 2; }
  fi
  command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || { echo "{\"$1\":false,\"errors\":[\"chromium not installed: apt-get install -y chromium\"]}"; exit 2; }
}

# verdict NAME RC URL WHAT: one line on stderr for a check's exit code (0 pass, 1 fail, else
# harness error); WHAT says where to look on a failure. Returns RC.
verdict() {
  case $2 in
    0) echo "$1: PASS $3" >&2 ;;
    1) echo "$1: FAIL $3 (see $4 above)" >&2 ;;
    *) echo "$1: harness error ($2) $3" >&2 ;;
  esac
  return "$2"
}
