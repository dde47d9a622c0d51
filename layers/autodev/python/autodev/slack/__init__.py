"""Slack: request verification, command parsing, Block Kit views, the client.

Modules are imported directly (``autodev.slack.client``, ``autodev.slack.views``, ...); this
package file imports nothing so that a Lambda cold start pays only for what it uses. The local
Slack sink and gateway are stand-ins in ``autodev.local.slack``.
"""
