"""Where the tests' fixture files live (imported by name: ``conftest`` is ambiguous across folders)."""

from pathlib import Path

FORMATS_DATA = Path(__file__).parent / "data" / "formats"
