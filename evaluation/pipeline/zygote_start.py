"""Imported first by the kernel zygote (:data:`evaluation.pipeline.kernels.PRELOAD`), and only
there: sets :data:`~evaluation.pipeline.zygote_env.ZYGOTE_ENV` in the zygote's environment,
before numpy starts its BLAS thread pool."""

import os

from evaluation.pipeline.zygote_env import ZYGOTE_ENV

os.environ.update(ZYGOTE_ENV)
