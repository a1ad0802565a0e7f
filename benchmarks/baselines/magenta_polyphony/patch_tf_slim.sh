#!/bin/bash
# tf_slim 1.1.0 uses tensorflow.python.framework.ops.IndexedSlices, which TF 2.15 no longer has: re-add the alias
# right after tf_slim imports `ops` (idempotent). Same patch as ../shared/reference/baselines/magenta/patch_tf_slim.sh.
VENV=${VENV:-/work/magenta-venv}
SP=$VENV/lib/python3.11/site-packages
for f in $SP/tf_slim/learning.py $SP/tf_slim/training/training.py $SP/tf_slim/layers/optimizers.py; do
  grep -q "_is_shim" $f && continue
  sed -i '0,/^from tensorflow.python.framework import ops$/s//from tensorflow.python.framework import ops\nfrom tensorflow.python.framework import indexed_slices as _is_shim\nops.IndexedSlices = _is_shim.IndexedSlices/' $f
  grep -n "_is_shim" $f
done
