import sys

from evaluation.pipeline.cli import main

sys.exit(main())
