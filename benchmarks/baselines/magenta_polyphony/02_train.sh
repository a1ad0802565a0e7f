#!/bin/bash
# polyphony_rnn_train with its default hparams (3 x 256 LSTM, dropout keep 0.5, lr 0.001, clip 5) but batch 16
# (the default 64 took ~50 s a step on this 1 thread), stopped by its PID after MINUTES of wall time (it saves a
# checkpoint every 60 s; the last one is the model).
WORK=${WORK:-/tmp/magpoly}; B=${VENV:-/work/magenta-venv}/bin; MINUTES=${MINUTES:-22}; HPARAMS=${HPARAMS:-batch_size=16}
export OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
cd $WORK; mkdir -p logs; rm -rf runs/polyphony
uptime > logs/uptime_train.log
date +%s > logs/train.start
nice -n 19 $B/polyphony_rnn_train --run_dir=runs/polyphony \
  --sequence_example_file=data/polyphony/training_poly_tracks.tfrecord \
  --num_training_steps=100000 --summary_frequency=10 --hparams=$HPARAMS > logs/train.log 2>&1 &
PID=$!
echo $PID > logs/train.pid
for i in $(seq 1 $((MINUTES * 6))); do kill -0 $PID 2>/dev/null || break; sleep 10; done
kill $PID 2>/dev/null; wait $PID 2>/dev/null
date +%s > logs/train.end
uptime >> logs/uptime_train.log
echo "wall_s=$(( $(cat logs/train.end) - $(cat logs/train.start) ))"
grep -E "Global Step" logs/train.log | grep "^INFO" | tail -2
ls runs/polyphony/train | grep index | tail -2
