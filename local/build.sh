#!/bin/sh
# `npm start`'s build, kept off the screen (tsc, the workflow bundle, vite): its output goes to
# <data dir>/build.log, replaced at every start, and a failure says so in one line naming that file.
d="${DURABOX_DATA_DIR:-.durabox}"
mkdir -p "$d" || exit 1
if ! npm run build --silent > "$d/build.log" 2>&1; then
  echo "durabox: the build failed; its output is in $d/build.log" >&2
  exit 1
fi
