"""Rules: dtype."""

from __future__ import annotations

from .base import Example, Hint, rule

RULES = []
