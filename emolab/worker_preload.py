"""What the forkserver of the analysis workers imports once, before forking them.

:class:`emolab.worker.WorkerPool` forks its children from one server process
(:func:`emolab.worker.forkserver_context`); importing this module there loads what every
analysis needs, so a child starts with it in place instead of paying for it (≈ 1.2 CPU s each):
numpy with one BLAS thread, the decoding and feature code, the models' code (not the models:
each child loads its own, from the folder it is given) and the numba kernels (the pass over the
samples, the pitch chain, the boosted trees), whose first call also sets numba itself up
(≈ 0.4 s). Nothing here depends on the caller's
environment: the children run with the environment of the process that starts them.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # a forked child cannot reset a BLAS thread pool

import numpy as np  # noqa: E402

from emolab import audio, pipeline, predict  # noqa: E402,F401
from emolab.features import deam_fast, pitch, tonal  # noqa: E402,F401
from emolab.models import dynamic, static_fast, valence  # noqa: E402,F401

try:  # loads the compiled kernels (compiling them once per machine, under a lock)
    pitch._kernels()
    from emolab.features import sample_pass  # noqa: E402
    from emolab.models import tree_kernel  # noqa: E402

    sample_pass.prepare(np.zeros(8, np.float32), step=2, n_blocks=4)
    tree_kernel.ready()
except Exception:  # noqa: BLE001 - a child then loads them itself, and reports what fails
    pass
