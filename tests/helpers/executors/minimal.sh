#!/bin/sh
# The smallest executor speaking the protocol: consumes the payload, prints a success envelope.
# Used to measure the worker's own per-task overhead, so it forks nothing (builtin `read`, not cat).
for arg in "$@"; do
  if [ "$arg" = "--payload-stdin" ]; then
    while IFS= read -r _line; do :; done
  fi
done
echo '{"ok": true, "return": null}'
