#!/usr/bin/env bash
# Every preset as a user runs it: a fresh store each, one at a time, whole processes under
# /usr/bin/time -v. Prints each preset's log lines with the metrics, epochs, wall time and peak RSS.
# Usage: TEXTPIPE_MIRROR=../shared/datasets bash bench/fresh_presets.sh [PRESET...]
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
    presets=(imdb-mlp imdb-ngram imdb-lstm imdb-bilstm imdb-mlp-classic imdb-lstm-classic imdb-bilstm-classic)
fi
python=${PYTHON:-.venv/bin/python}
for preset in "${presets[@]}"; do
    store=$(mktemp -d /tmp/textpipe-fresh-XXXX)
    log=$(mktemp /tmp/textpipe-fresh-log-XXXX)
    TEXTPIPE_HOME=$store /usr/bin/time -v "$python" -m textpipe.cli.main run "$preset" >"$log" 2>&1
    echo "== $preset (exit $?)"
    grep -E "^│ (accuracy|f1|macro_f1)|^epoch [0-9]+/|done in [0-9.]+ s;|Elapsed|Maximum resident" "$log" \
        | sed 's/│//g' | tr -s ' '
    rm -rf "$store" "$log"
done
