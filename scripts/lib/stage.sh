# Sourced by scripts/test-all and .ci/run: `stage NAME TIMEOUT_SECONDS COMMAND...` runs one
# stage under its own time limit and prints how long it took; a stage that fails or
# overruns stops the run with its name.
STAGE_TIMES=()

stage() {
  local name="$1" limit="$2"
  shift 2
  echo "=== $name (limit ${limit} s)"
  local start=$SECONDS rc=0
  timeout --kill-after=30 "$limit" "$@" || rc=$?
  local took=$((SECONDS - start))
  STAGE_TIMES+=("$(printf '%5d s  %s' "$took" "$name")")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "=== $name: TIMED OUT after ${took} s (limit ${limit} s)"
    stage_summary
    exit 1
  elif [ "$rc" != 0 ]; then
    echo "=== $name: FAILED (exit $rc) after ${took} s"
    stage_summary
    exit "$rc"
  fi
  echo "=== $name: ${took} s"
}

stage_summary() {
  echo "=== stage durations"
  printf '%s\n' "${STAGE_TIMES[@]}"
}
