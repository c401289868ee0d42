"""Where e-mailed links may send a browser: GoTrue's IsRedirectURLValid (internal/utilities/request.go),
case by case. The site URL's own scheme and host pass (any port when that host is a loopback name,
RFC 8252's native apps), a loopback IP literal passes, any other IP literal (a decimal one too) never
does, and everything else must match an additional_redirect_urls pattern, a glob compiled with "."
and "/" as separators (gobwas/glob: `*` and `?` stop at them, `**` does not), matched against the
URL without its fragment."""

from __future__ import annotations

import pytest

from core.settings import LocalbaseSettings
from localbase.auth.redirects import is_allowed, safe_redirect

ALLOW = (
    "http://127.0.0.1:3000/**",
    "http://localhost:3000/**",
    "https://*.example.com/callback",
    "http://localhost:4000/cb",
    "myapp://auth/*",
    "http://10.0.0.1/**",
    "https://app.example.org/{en,zh}/?",
)


@pytest.fixture
def settings() -> LocalbaseSettings:
    return LocalbaseSettings(site_url="http://127.0.0.1:3000", redirect_allow_list=ALLOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3000/chat",  # the site
        "http://127.0.0.1:5173/auth/callback",  # the site's loopback host on another port
        "http://127.0.0.2:8080/",  # a loopback IP literal
        "http://[::1]:5173/cb",
        "http://localhost:3000/auth/callback",  # the allow list
        "https://app.example.com/callback",
        "http://localhost:4000/cb#section",  # the pattern is matched without the fragment
        "myapp://auth/done",
        "https://app.example.org/zh/a",
    ],
)
def test_gotrue_lets_these_through(url: str, settings: LocalbaseSettings) -> None:
    assert is_allowed(url, settings)
    assert safe_redirect(url, settings) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://localhost:5173/auth/callback",  # loopback, but neither the site's host nor listed
        "http://localhost/",
        "https://evil.com/x.example.com/callback",  # `*` does not cross "/" ...
        "https://a.b.example.com/callback",  # ... nor "."
        "myapp://auth/a/b",
        "https://app.example.org/fr/a",
        "http://2130706433/",  # 127.0.0.1 written as one decimal number
        "http://10.0.0.1/anything",  # an IP literal that is not loopback, listed or not
        "http://foo.localhost:3000/",
        "http://exa_mple.com/",  # not a usual host name
    ],
)
def test_gotrue_refuses_these(url: str, settings: LocalbaseSettings) -> None:
    assert not is_allowed(url, settings)
    assert safe_redirect(url, settings) == "http://127.0.0.1:3000"


def test_a_site_on_localhost_frees_its_own_host_only() -> None:
    settings = LocalbaseSettings(site_url="http://localhost:3000", redirect_allow_list=())
    assert is_allowed("http://localhost:8080/x", settings)
    assert not is_allowed("http://host.example.com:3000/x", settings)
    assert is_allowed("http://127.0.0.1:8080/x", settings)  # a loopback IP literal, always
    hosted = LocalbaseSettings(site_url="https://chat.example.com", redirect_allow_list=())
    assert is_allowed("https://chat.example.com/welcome", hosted)
    assert not is_allowed("https://chat.example.com:8443/welcome", hosted)  # another port
    assert not is_allowed("http://chat.example.com/welcome", hosted)  # another scheme
    assert not is_allowed("http://localhost:3000/", hosted)
