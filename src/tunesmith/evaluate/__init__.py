"""Evaluation: how well a melody model predicts held-out music, and how its output compares to real music.

Two kinds of figures, as the field reports them:

* **Likelihood** (Magenta's eval): the mean negative log-likelihood per step on held-out melodies
  (nats/step; ``perplexity = exp(loss)`` is the number of equally likely choices the model is torn
  between), next-event accuracy, and the split between note-on steps and hold/off steps.
* **Melody statistics** in the manner of MGEval (Yang & Lerch 2018, "On the evaluation of generative
  models in music"): features per melody, then per feature the *intra-set* distances (within one set)
  and the *inter-set* distances (generated vs reference), smoothed by a Gaussian KDE and compared by
  KL divergence and overlapping area (OA). OA near 1 means "generated melodies differ from the
  reference as much as reference melodies differ from each other" - the goal. Plus three of MusPy's
  metrics (Dong et al. 2020): pitch-class entropy, scale consistency and empty-beat rate.
* **Realism** (``realism.py``): a classifier two-sample test - can two critics of our own (gradient boosting on
  key-invariant statistics, a small GRU over relative note events) tell continuations of held-out primers from the
  real continuations? With real-vs-real calibration, what tells them apart, and a copy figure.

The metrics are implemented in `statistics.py` with numpy/scipy (no mgeval/muspy dependency); where the reference
code has a quirk, the docstring says what is done instead.
"""

from tunesmith.evaluate.likelihood import likelihood, training_gap
from tunesmith.evaluate.realism import compare_continuations, realism_test
from tunesmith.evaluate.reference import reference_melodies
from tunesmith.evaluate.report import compare_models, evaluate_model, report_html
from tunesmith.evaluate.statistics import (
    FEATURES,
    SCALAR_METRICS,
    compare_sets,
    kl_divergence,
    melody_features,
    melody_statistics,
    overlap_area,
)

__all__ = [
    "FEATURES",
    "SCALAR_METRICS",
    "compare_continuations",
    "compare_models",
    "compare_sets",
    "evaluate_model",
    "kl_divergence",
    "likelihood",
    "melody_features",
    "melody_statistics",
    "overlap_area",
    "realism_test",
    "reference_melodies",
    "report_html",
    "training_gap",
]
