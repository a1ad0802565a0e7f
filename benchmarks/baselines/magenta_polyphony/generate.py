"""Continue each held-out primer of plan.json with a trained polyphony_rnn, in one process (polyphony_rnn_generate
builds the graph and restores the checkpoint on every call; this is its run_with_flags loop over 51 primers).

Options as Magenta's polyphony_rnn README gives for continuing a primer: condition_on_primer=True,
inject_primer_during_generation=False; temperature 1.0, beam 1. num_steps (16ths, primer included) reaches the end
of bar 10 (or of the piece). numpy is seeded per piece (Magenta samples with numpy).

    /work/magenta-venv/bin/python generate.py RUN_DIR PLAN_JSON PRIMER_DIR OUT_DIR
"""

import json
import os
import sys
import time

import note_seq
import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.polyphony_rnn import polyphony_model, polyphony_sequence_generator
from note_seq.protobuf import generator_pb2

tf.disable_v2_behavior()


def main(run_dir, plan_path, primer_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    config = polyphony_model.default_configs["polyphony"]
    config.hparams.batch_size = 1
    generator = polyphony_sequence_generator.PolyphonyRnnSequenceGenerator(
        model=polyphony_model.PolyphonyRnnModel(config),
        details=config.details,
        steps_per_quarter=config.steps_per_quarter,
        checkpoint=os.path.join(run_dir, "train"),
    )
    started = time.perf_counter()
    for item in json.load(open(plan_path)):
        np.random.seed(item["index"])
        primer = note_seq.midi_file_to_sequence_proto(os.path.join(primer_dir, item["primer"]))
        qpm = primer.tempos[0].qpm if primer.tempos and primer.tempos[0].qpm else 120.0
        options = generator_pb2.GeneratorOptions()
        options.generate_sections.add(
            start_time=primer.total_time, end_time=item["num_steps"] * 60.0 / qpm / generator.steps_per_quarter
        )
        options.args["temperature"].float_value = 1.0
        options.args["beam_size"].int_value = 1
        options.args["branch_factor"].int_value = 1
        options.args["steps_per_iteration"].int_value = 1
        options.args["condition_on_primer"].bool_value = True
        options.args["no_inject_primer_during_generation"].bool_value = True
        t = time.perf_counter()
        sequence = generator.generate(primer, options)
        note_seq.sequence_proto_to_midi_file(sequence, os.path.join(out_dir, item["primer"]))
        print(f"{item['primer']}: {len(sequence.notes)} notes, {time.perf_counter() - t:.1f} s", flush=True)
    print(f"generated {len(json.load(open(plan_path)))} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(*sys.argv[1:5])
