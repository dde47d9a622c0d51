"""The webhook SSRF guard refuses every non-public target before any connection.

Sockets are disabled in this tier (tests/unit/conftest.py): a refusal that came after a
connection attempt would fail with pytest-socket's SocketBlockedError instead.
"""

from __future__ import annotations

import pytest

from autodev.webhooks import WebhookRefused, check_target, send
from autodev.webhooks.signing import new_secret

REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "[::1]": "loopback",
    "10.1.2.3": "private",
    "172.16.0.9": "private",
    "192.168.1.1": "private",
    "[fc00::1]": "private",
    "169.254.169.254": "metadata",
    "169.254.10.1": "link-local",
    "[fe80::1]": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "[::ffff:127.0.0.1]": "IPv4-mapped",
    "[::ffff:169.254.169.254]": "IPv4-mapped",
    "[::ffff:8.8.8.8]": "IPv4-mapped",
    "0.0.0.0": "unspecified",  # noqa: S104 - a target to refuse, not a bind
    "[::]": "unspecified",
    "224.0.0.1": "multicast",
    "[ff02::1]": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "[2002:7f00:1::1]": "6to4",
    "[64:ff9b::a9fe:a9fe]": "NAT64",
    "198.18.0.1": "private",
}


@pytest.mark.parametrize(("host", "reason"), sorted(REFUSED_ADDRESSES.items()))
def test_every_non_public_address_is_refused(host: str, reason: str) -> None:
    with pytest.raises(WebhookRefused, match=reason):
        check_target(f"https://{host}/hook", allowed_hosts=())


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "169.254.169.254"]  # one public, one metadata: refused

    with pytest.raises(WebhookRefused, match=r"hooks\.example resolves to 169\.254\.169\.254"):
        check_target("https://hooks.example/x", allowed_hosts=(), resolver=rebinding)


def test_a_decimal_loopback_address_is_refused() -> None:
    # 2130706433 is 127.0.0.1 written as one number: checked on the address it resolves to.
    for host in ("2130706433", "0x7f.1", "127.1", "0177.0.0.1"):
        with pytest.raises(WebhookRefused, match="loopback"):
            check_target(f"https://{host}/", allowed_hosts=())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.216.34/hook", "needs https"),
        ("ftp://93.184.216.34/hook", "must start with https"),
        ("https://user:pw@93.184.216.34/hook", "credentials"),
        ("https:///nohost", "needs a host"),
        ("not a url", "must start with https"),
    ],
)
def test_bad_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookRefused, match=reason):
        check_target(url, allowed_hosts=())


def test_refusal_happens_before_any_connection() -> None:
    # send() resolves, checks and only then connects; with sockets blocked, a refusal proves
    # that no connection was attempted.
    for host in ("127.0.0.1", "169.254.169.254", "[::ffff:10.0.0.1]", "100.64.1.1"):
        with pytest.raises(WebhookRefused):
            send(
                f"https://{host}/hook",
                {"type": "ping"},
                secret=new_secret(),
                msg_id="msg_1",
                allowed_hosts=(),
            )


def test_a_public_target_is_checked_and_pinned_to_its_address() -> None:
    target = check_target(
        "https://hooks.example:8443/in?x=1",
        allowed_hosts=(),
        resolver=lambda host, port: ["93.184.216.34"],
    )
    assert target.address == "93.184.216.34"
    assert target.host_header == "hooks.example:8443"
    assert target.path == "/in?x=1"


def test_only_allow_listed_hosts_pass_the_address_check_and_may_use_http() -> None:
    target = check_target(
        "http://receiver.local:9000/hook",
        allowed_hosts=("receiver.local",),
        resolver=lambda host, port: ["127.0.0.1"],
    )
    assert target.allow_listed
    assert target.address == "127.0.0.1"
    with pytest.raises(WebhookRefused, match="loopback"):
        check_target(
            "https://other.local/hook",
            allowed_hosts=("receiver.local",),
            resolver=lambda host, port: ["127.0.0.1"],
        )


def test_the_allow_list_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from autodev.config import get_settings

    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1, receiver.local")
    get_settings.cache_clear()
    try:
        assert check_target("http://127.0.0.1:8080/x").allow_listed
    finally:
        get_settings.cache_clear()
