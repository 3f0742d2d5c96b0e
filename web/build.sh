#!/usr/bin/env bash
# Copies the page's one third-party file set, uPlot, from node_modules into
# web/vendor/ (a build output, not committed). Run from anywhere:
#
#   web/build.sh        (or: npm run build:web)
#
# Installs the npm devDependencies (package-lock.json) first when uPlot is
# missing. Nothing is fetched at run time: the page loads only its own files.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ ! -f node_modules/uplot/dist/uPlot.esm.js ]; then
    if ! command -v npm >/dev/null; then
        echo "web/build.sh: npm is needed to install the page's chart library (uPlot, as" \
             "package-lock.json says): apt-get install npm, or make deps" >&2
        exit 1
    fi
    npm ci --no-audit --no-fund --silent
fi
mkdir -p web/vendor
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css web/vendor/
cp node_modules/uplot/LICENSE web/vendor/uPlot.LICENSE 2>/dev/null || true
echo "web/vendor: $(ls web/vendor | tr '\n' ' ')"
