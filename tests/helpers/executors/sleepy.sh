#!/bin/sh
# Like minimal.sh, but each task takes ~50 ms so that concurrent runs overlap (race tests).
for arg in "$@"; do
  if [ "$arg" = "--payload-stdin" ]; then
    while IFS= read -r _line; do :; done
  fi
done
sleep 0.05
echo '{"ok": true, "return": null}'
