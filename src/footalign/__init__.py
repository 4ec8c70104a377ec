"""footalign: automatic landmarks and alignment measurements of the foot and ankle from WBCT."""

from __future__ import annotations

__version__ = "0.1.0"
