"""Slack: request verification, command parsing, Block Kit views, the client and the local sink.

Modules are imported directly (``autodev.slack.client``, ``autodev.slack.sink``, ...); this
package file imports nothing so that a Lambda cold start pays only for what it uses.
"""
