"""Figures and the self-contained HTML reports of footalign."""

from __future__ import annotations
