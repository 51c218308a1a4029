#!/bin/sh
# npm start: copy the demo tree to a fresh scan directory (so the repository stays clean) and run
# vigil svscan over it in the foreground. Ctrl-C stops the tree cleanly.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
scan=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")
cp -R "$here/examples/demo/." "$scan/"
# bin/ on PATH: the services call `vigil` (chatty/log/run), and so can you
export PATH="$here/bin:$PATH"
VIGIL="$here/bin/vigil"
echo "vigil demo: scan directory $scan"
echo "  try: $VIGIL status $scan    curl http://127.0.0.1:${VIGIL_DEMO_PORT:-8080}/    $VIGIL logs $scan/chatty"
exec node --max-semi-space-size=1 --no-memory-reducer "$here/bin/vigil" svscan "$scan"
