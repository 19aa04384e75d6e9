"""Bulk jobs over the store: import and export (curation runs join later)."""

from thresher.pipeline.exporter import ExportResult, export_dataset
from thresher.pipeline.importer import ImportResult, import_file

__all__ = ["ExportResult", "ImportResult", "export_dataset", "import_file"]
