#!/bin/bash
# Continue the 51 held-out primers (generate.py), then score them with tunesmith (score.py) -> score.json.
WORK=${WORK:-/tmp/magpoly}; VENV=${VENV:-/work/magenta-venv}; TS=${TS:-/work/main/.venv/bin/python}
CORPUS=${CORPUS:-/tmp/polywork/corpus}
export OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
HERE="$(cd "$(dirname "$0")" && pwd)"
cd $WORK; rm -rf gen; mkdir -p logs
/usr/bin/time -v nice -n 19 $VENV/bin/python "$HERE/generate.py" runs/polyphony plan.json primers gen > logs/generate.log 2>&1
grep -E "^generated|Elapsed|User time" logs/generate.log
nice -n 19 $TS "$HERE/score.py" $CORPUS plan.json gen score.json > /dev/null && echo "wrote $WORK/score.json"
