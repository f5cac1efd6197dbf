# Sourced by the CLI drills: a scratch dir removed on exit, fail, and expect (exit code + output).
# shellcheck shell=bash
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# cuda_driver_here: this machine has a CUDA driver (libcuda.so.1 in the loader's cache).
cuda_driver_here() { ldconfig -p | grep -q 'libcuda\.so\.1 '; }
# expect CODE PATTERN -- command...: exit code and a line of its output
expect() {
  local code="$1" pattern="$2"; shift 3
  local rc=0
  "$@" >"$tmp/out" 2>&1 || rc=$?
  [ "$rc" = "$code" ] || { cat "$tmp/out"; fail "$* exited $rc, expected $code"; }
  grep -qE -- "$pattern" "$tmp/out" || { cat "$tmp/out"; fail "$* printed no '$pattern'"; }
}
