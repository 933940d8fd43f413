# Sourced by run-tests: makes sure the browser tests (tests/GenSearch.Web.Tests) have Debian's Chromium,
# installing the chromium package with apt-get when /usr/bin/chromium is missing. Playwright for .NET
# drives it through its executable path (its own browser downloads cannot work offline). When it
# cannot be installed the browser tests fail, naming the missing executable; they never skip.
# GENSEARCH_CHROMIUM names another Chromium instead.

ensure_test_chromium() {
  local chromium=${GENSEARCH_CHROMIUM:-/usr/bin/chromium}
  [ -x "$chromium" ] && return 0
  if [ -n "${GENSEARCH_CHROMIUM:-}" ]; then
    echo "run-tests: GENSEARCH_CHROMIUM=$chromium is not an executable; the browser tests will fail" >&2; return 0
  fi
  echo "run-tests: Chromium is missing; installing Debian's chromium" >&2
  local sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  "${sudo[@]}" apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >&2 || true
  [ -x "$chromium" ] || echo "run-tests: Chromium could not be installed; the browser tests will fail" >&2
  return 0
}
