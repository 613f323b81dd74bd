"""The gradebook: nbgrader's database plus our tables (receipts, extensions, excuses, runs)."""

from .database import Gradebook, open_gradebook
from .models import Excuse, Extension, GradingRun, Receipt, Release

__all__ = ["Excuse", "Extension", "Gradebook", "GradingRun", "Receipt", "Release", "open_gradebook"]
