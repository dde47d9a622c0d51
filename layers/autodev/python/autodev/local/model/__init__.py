"""The scripted model: a local stand-in for the Anthropic Messages API.

``server`` answers Claude Code (the real CLI) over HTTP on loopback; ``script`` is what a
session replays; ``sessions`` builds the sessions of the workflow steps from what is in the
workspace (``apex_checks``, ``metadata_checks``); ``tasks`` builds a task's session from the
task row; ``conversation`` answers autodev's own requests (summaries, memory extraction,
answers: no task, no tools) from the request; ``service`` runs one server in the local
stack and exports its URL as ``AUTODEV_SCRIPTED_MODEL_URL``. Every answer says ``[scripted model]``.
"""
