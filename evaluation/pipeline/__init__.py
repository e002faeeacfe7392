"""Running the study and building its report.

``config`` (study.yml) -> ``runs`` (every notebook x parameter set through papermill,
cached) -> ``outputs`` (what a notebook writes) -> ``narrative`` (report text from the
results) -> ``report`` (assembly) -> ``render`` (Quarto, or the offline pandoc + typst
engine); ``runner`` ties them together, ``manifest`` checks a data folder's hashes,
``folders`` keeps the study inside the folders it owns, ``cli`` is ``python -m evaluation``.
"""
