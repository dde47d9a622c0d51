"""The README's settings table names every setting autodev reads, so the two cannot drift."""

from __future__ import annotations

from autodev import runtime
from autodev.config import Settings
from autodev.slack.client import API_URL_ENV
from tests.conftest import ROOT


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []


def test_every_setting_required_in_aws_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    required = {
        name
        for value in vars(runtime).values()
        if isinstance(value, runtime.Need)
        for name in value.names
    }
    assert required
    missing = sorted(name for name in {*required, API_URL_ENV} if f"`{name}`" not in readme)
    assert missing == []
