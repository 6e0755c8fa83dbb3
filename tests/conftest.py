"""Shared test setup: make the tests folder importable (op_table) for every test module."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
