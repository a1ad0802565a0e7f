"""Print the scalar summaries (loss, perplexity, accuracy...) of an eval dir written by polyphony_rnn_train --eval."""

import glob
import sys

import tensorflow as tf

for d in sys.argv[1:]:
    for f in sorted(glob.glob(d + "/events.out.tfevents.*")):
        for e in tf.compat.v1.train.summary_iterator(f):
            values = {v.tag: round(v.simple_value, 4) for v in e.summary.value}
            if values:
                print(d, "step", e.step, values)
