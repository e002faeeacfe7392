"""``python -m evaluation.data.synthetic OUT_DIR``: write the synthetic default data."""

from evaluation.data.synthetic.writing import main

raise SystemExit(main())
