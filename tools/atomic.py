"""Atomic file writes for the tools — the regression machinery's own helper, so there is one of it.

Readers see the old file or the new one, never half of one; a failed write removes its temporary.
"""

from __future__ import annotations

from tools.harness import write_json, write_text_atomic

__all__ = ["write_json", "write_text_atomic"]
