"""How durations read to a person (``1h 02m``, ``3m 05s``, ``12s``).

A module of its own, with no imports, so that the Slack front doors can use it without
pulling in the progress tracker (and its database pool) on their cold-start path.
"""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s`` or ``12s``; ``unknown`` when there is no figure."""
    if seconds is None:
        return "unknown"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
