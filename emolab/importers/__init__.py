"""Getting labels into the index and out again.

* :mod:`emolab.importers.dataset_import` — :func:`import_dataset`: a dataset read by
  :mod:`emolab.datasets` stored in the index (songs, static labels, curves, feature rows).
* :mod:`emolab.importers.annotation_csv` — :func:`export_annotations` and
  :func:`import_annotations`: annotation CSV files (documented columns, all rows or none).
"""
from __future__ import annotations

from emolab.importers.annotation_csv import (CSV_COLUMNS, DELIMITERS, MAX_CSV_BYTES, SCALES, ImportReport,
                                             RowProblem, export_annotations, import_annotations)
from emolab.importers.dataset_import import import_dataset

__all__ = ["CSV_COLUMNS", "DELIMITERS", "MAX_CSV_BYTES", "SCALES", "ImportReport", "RowProblem",
           "export_annotations", "import_annotations", "import_dataset"]
