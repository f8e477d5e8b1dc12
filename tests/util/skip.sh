# Sourced by the shell tests: skip MESSAGE... ends a test that cannot start
# its parts here. It exits 77 (CTest's SKIP_RETURN_CODE) with the reason, or,
# with HPO_REQUIRE_ALL=1 in the environment (.ci/run sets it), exits 1: a
# green CI has run every test.
skip() {
  if [ -n "${HPO_REQUIRE_ALL:-}" ] && [ "${HPO_REQUIRE_ALL}" != 0 ]; then
    echo "FAIL: cannot run here, and HPO_REQUIRE_ALL=1 forbids skipping: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

# Sets $browser to the first Chromium on the PATH, or skips.
find_chromium() {
  browser=""
  local candidate
  for candidate in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$candidate" > /dev/null 2>&1; then
      browser=$(command -v "$candidate")
      return 0
    fi
  done
  skip "no Chromium found (chromium, chromium-browser, google-chrome);" \
    "install it to run this test: apt-get install -y chromium"
}
