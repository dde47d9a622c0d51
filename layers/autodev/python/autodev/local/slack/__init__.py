"""Slack on the local stack: the sink that answers like Slack's Web API (``sink``), the Slack
handlers behind a loopback endpoint (``gateway``), requests signed as Slack signs them
(``sender``), the stack's signing secret (``secret``) and the stack's Slack services
(``services``)."""
