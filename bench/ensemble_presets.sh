#!/usr/bin/env bash
# The ensemble target of issue 9: imdb-ngram, imdb-lstm and imdb-bilstm in one fresh store
# (each a whole `textpipe run` under /usr/bin/time -v), each model evaluated on the validation
# split too, ensemble weights chosen there (bench/ensemble_weights.py), then the chosen
# ensembles through `textpipe ensemble` on the test split.
# Usage: TEXTPIPE_MIRROR=../shared/datasets bash bench/ensemble_presets.sh [STORE]
# (SKIP_RUNS=1: the runs are in STORE already; only the evaluations and ensembles.)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
store=${1:-$(mktemp -d /tmp/textpipe-ensemble-XXXX)}
validation=$store-validation   # -o folders may not lie inside the store
export TEXTPIPE_HOME=$store
presets=(imdb-lstm imdb-bilstm imdb-ngram)  # the first is a cold run; the others reuse its download
for preset in "${presets[@]}"; do
    [ -n "${SKIP_RUNS:-}" ] && break
    echo "== textpipe run $preset"
    /usr/bin/time -v "$python" -m textpipe.cli.main run "$preset" 2>&1 \
        | grep -E "^│ (accuracy|f1|macro_f1)|^epoch [0-9]+/|done in [0-9.]+ s;|Elapsed|Maximum resident" \
        | sed 's/│//g' | tr -s ' '
done
for preset in "${presets[@]}"; do
    read -r model encoded < <("$python" - "$store" "$preset" <<'PY'
import json, sys
record = json.load(open(f"{sys.argv[1]}/runs/{sys.argv[2]}.json"))
print(record["stages"]["train"]["path"], record["stages"]["encode"]["path"])
PY
)
    "$python" -m textpipe.cli.main evaluate "$model" "$encoded" --split validation \
        -o "$validation/$preset" >/dev/null
done
"$python" bench/ensemble_weights.py "$store" "$validation" "${presets[@]}"
