"""The local Slack page in a real headless Chromium, driving a deployment as a person would.

The page is served by the local stack's Slack sink; its message box sends a signed slash
command to the local gateway, the approval card appears in the workflow's thread with its
Block Kit rendered, a click on Approve is a signed interaction, and the card closes as the
workflow finishes. Chromium comes from the distribution (``make browser`` installs it as root
with apt); without it the test is skipped and says why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.local import delivery
from autodev.local.slack.services import SERVICES, SINK_URL_ENV
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, default_answer
from autodev.orchestrator.queue import ClaimedTask
from autodev.workflows import get_workflow_status, list_workflows

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DEADLINE = 60


def _browser_paths() -> tuple[str, str] | None:
    binary = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    paths = _browser_paths()
    if paths is None:
        pytest.skip(
            "no Chromium with chromedriver on this machine: `make browser` installs them from"
            " the distribution (as root, with apt-get); the browser test needs both"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    # The driver is given: Selenium never looks for (or downloads) one of its own.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    try:
        yield driver
    finally:
        driver.quit()


def _validation(task: ClaimedTask) -> dict[str, Any]:
    answer = default_answer(task)
    if task.context.get("step") == "validate":
        # Shaped like the scripted provider's validation answer.
        answer.update(
            details="2 Apex component(s) and their metadata are well-formed, with 1 test class",
            problems=[],
            components=[
                "force-app/main/default/classes/AccountService.cls",
                "force-app/main/default/triggers/AccountTrigger.trigger",
            ],
            test_classes=["AccountServiceTest"],
        )
    return answer


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("APPROVERS", "ULOCALDEV")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    with LocalStack(services=[*SERVICES, delivery.SERVICE], poke_scaler=False) as running:
        double = WorkerDouble(respond=_validation).start()
        try:
            yield running
        finally:
            double.stop()
    get_settings.cache_clear()


def test_a_deployment_started_approved_and_finished_from_the_page(
    stack: LocalStack, browser: Any, tmp_path: Path
) -> None:
    import os

    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def until(condition: Any, what: str) -> Any:
        return WebDriverWait(browser, DEADLINE, poll_frequency=0.2).until(
            lambda _: condition(), message=f"the page did not show {what}"
        )

    def text_of(selector: str) -> str:
        try:
            found = browser.find_elements(By.CSS_SELECTOR, selector)
            return "\n".join(element.text for element in found)
        except StaleElementReferenceException:  # re-rendered meanwhile: read it next time
            return ""

    def click(selector: str, what: str) -> None:
        """Click the element once the page shows it (it may be re-rendered meanwhile)."""

        def clicked() -> bool:
            try:
                found = browser.find_elements(By.CSS_SELECTOR, selector)
                if not found:
                    return False
                found[0].click()
            except StaleElementReferenceException:
                return False
            return True

        until(clicked, what)

    browser.get(os.environ[SINK_URL_ENV])
    until(lambda: text_of("#channel-name") == "CLOCALDEV", "the channel")
    until(lambda: "connected to the local gateway" in text_of("#connection"), "the gateway")

    # Start it from the page's box, as the local developer (an approver here).
    browser.find_element(By.ID, "text").send_keys("/workflow start deployment staging\n")
    until(lambda: "deployment" in text_of("#messages .message"), "the workflow's thread")
    click("#messages button.replies", "the thread's replies")
    approve = "#thread-messages button[data-action=workflow_approve]"
    until(lambda: browser.find_elements(By.CSS_SELECTOR, approve), "the Approve button")
    card = text_of("#thread-messages")
    for shown in ("Approval needed: deployment to staging", "Validation passed", "Target org"):
        assert shown in card, card
    assert "{" not in card  # rendered Block Kit, not JSON
    browser.save_screenshot(str(tmp_path / "approval.png"))

    click(approve, "the Approve button")
    until(lambda: "Approved by @local-developer" in text_of("#thread-messages"), "the decision")
    until(lambda: not browser.find_elements(By.CSS_SELECTOR, approve), "the card without buttons")
    until(lambda: "deployment succeeded" in text_of("#thread-messages"), "the result")
    [workflow] = list_workflows()
    assert get_workflow_status(workflow.id).status == "succeeded"
    # The status message at the thread's root shows the end, without a Cancel button.
    until(lambda: "Completed" in text_of("#messages .message"), "the finished status")
    assert not browser.find_elements(
        By.CSS_SELECTOR, "#messages button[data-action=workflow_cancel]"
    )
