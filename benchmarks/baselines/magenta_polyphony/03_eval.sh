#!/bin/bash
# Usage: 03_eval.sh TFRECORD TAG — polyphony_rnn_train --eval on the latest checkpoint of runs/polyphony, same
# hparams as training (batch 16: all but <16 of the records, in full batches). --eval loops waiting for new
# checkpoints, so it is stopped by its PID once "Finished evaluation" is logged; the metrics are read from its
# summary events (its own logged line comes before the streaming update).
WORK=${WORK:-/tmp/magpoly}; B=${VENV:-/work/magenta-venv}/bin; HPARAMS=${HPARAMS:-batch_size=16}
export OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
HERE="$(cd "$(dirname "$0")" && pwd)"
cd $WORK; REC=$1; TAG=$2; EVRUN=runs/eval_$TAG; LOG=logs/eval_$TAG.log
rm -rf $EVRUN; mkdir -p $EVRUN; ln -s $(realpath runs/polyphony)/train $EVRUN/train
START=$(date +%s)
nice -n 19 $B/polyphony_rnn_train --run_dir=$EVRUN --sequence_example_file=$REC --eval --hparams=$HPARAMS > $LOG 2>&1 &
PID=$!
for i in $(seq 1 1200); do
  grep -q "^INFO:tensorflow:Finished evaluation" $LOG && { sleep 2; break; }
  kill -0 $PID 2>/dev/null || break
  sleep 1
done
kill $PID 2>/dev/null; wait $PID 2>/dev/null
echo "TAG=$TAG wall_s=$(( $(date +%s) - START ))"
nice -n 19 $B/python "$HERE/read_eval_events.py" $EVRUN/eval
