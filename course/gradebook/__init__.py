"""The gradebook: nbgrader's database plus our tables (receipts, extensions, excuses, runs)."""

from .database import Gradebook, open_gradebook
from .models import Excuse, Extension, GradingRun, Presentation, Receipt, Release, SessionSummary

__all__ = [
    "Excuse",
    "Extension",
    "Gradebook",
    "GradingRun",
    "Presentation",
    "Receipt",
    "Release",
    "SessionSummary",
    "open_gradebook",
]
