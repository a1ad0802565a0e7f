#!/bin/bash
# MIDI -> NoteSequences -> polyphony_rnn SequenceExamples (eval_ratio 0.1 of the train split, as the melody recipe).
# WORK holds train_midi/ and heldout_midi/ from make_midi.py.
set -e
WORK=${WORK:-/tmp/magpoly}; B=${VENV:-/work/magenta-venv}/bin
export OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
cd $WORK; mkdir -p data logs
T="/usr/bin/time -v nice -n 19"
$T $B/convert_dir_to_note_sequences --input_dir=train_midi --output_file=data/notesequences.tfrecord --recursive \
  > logs/convert_train.log 2>&1
$T $B/convert_dir_to_note_sequences --input_dir=heldout_midi --output_file=data/heldout_notesequences.tfrecord \
  --recursive > logs/convert_heldout.log 2>&1
$T $B/polyphony_rnn_create_dataset --input=data/notesequences.tfrecord --output_dir=data/polyphony \
  --eval_ratio=0.10 > logs/create_dataset.log 2>&1
$T $B/polyphony_rnn_create_dataset --input=data/heldout_notesequences.tfrecord --output_dir=data/polyphony_heldout \
  --eval_ratio=0.0 > logs/create_dataset_heldout.log 2>&1
grep -hE "Elapsed|Processed|Produced" logs/convert_*.log logs/create_dataset*.log
