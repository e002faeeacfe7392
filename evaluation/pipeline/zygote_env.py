"""The environment of the notebooks' kernels.

:mod:`evaluation.pipeline.kernels` passes :data:`KERNEL_ENV` to every kernel it starts, forked
or not; its zygote imports :mod:`evaluation.pipeline.zygote_start` first, which sets
:data:`ZYGOTE_ENV` before numpy starts its BLAS thread pool.
"""

KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""One BLAS thread per kernel: the runs execute side by side, one per core, and kernels with
a BLAS thread pool each would contend for the same cores (`benchmarks/RESULTS.md`); it also
keeps the arithmetic independent of the machine's number of cores."""

ZYGOTE_ENV = {**KERNEL_ENV, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
"""And in the zygote no warning from the debugger ipykernel imports, that a Python without
``-Xfrozen_modules=off`` may miss breakpoints: a batch run sets none."""
