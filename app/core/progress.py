"""How a long task reports progress: `progress(done, total, item)` after each item.

The CLI draws a bar from it; the background runner may log it or pass None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Progress: TypeAlias = Callable[[int, int, str], None]
