"""Intercom's hosts: the OAuth authorize page, the token endpoint and each region's REST API."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IntercomHosts", "normalize_region"]

US_API = "https://api.intercom.io"
REGION_APIS = {"US": US_API, "EU": "https://api.eu.intercom.io", "AU": "https://api.au.intercom.io"}
OAUTH_PAGE = "https://app.intercom.com"


def normalize_region(value: object) -> str:
    """Return `US`, `EU` or `AU` for a `/me` `app.region` value; unknown values mean US.

    Intercom documents only `"US"`; the EU and AU spellings are not documented, so any value
    starting with `eu`/`europe` or `au`/`australia` (any case) counts.
    """
    text = str(value or "").strip().upper()
    if text.startswith(("EU", "EUROPE")):
        return "EU"
    if text.startswith(("AU", "AUSTRALIA")):
        return "AU"
    return "US"


@dataclass(frozen=True)
class IntercomHosts:
    """The base URLs the service calls, with the overrides tests and the simulator use."""

    oauth_base_url: str = OAUTH_PAGE
    api_base_url: str = US_API
    eu_api_base_url: str = ""
    au_api_base_url: str = ""

    @classmethod
    def from_settings(cls, settings) -> IntercomHosts:
        """Build the hosts from INTERCOM_OAUTH_BASE_URL and the INTERCOM_API_BASE_URL* settings."""
        api = settings.INTERCOM_API_BASE_URL.rstrip("/")
        return cls(
            oauth_base_url=(settings.INTERCOM_OAUTH_BASE_URL.rstrip("/") or OAUTH_PAGE),
            api_base_url=api or US_API,
            eu_api_base_url=settings.INTERCOM_API_BASE_URL_EU.rstrip("/") or api or REGION_APIS["EU"],
            au_api_base_url=settings.INTERCOM_API_BASE_URL_AU.rstrip("/") or api or REGION_APIS["AU"],
        )

    @property
    def authorize_url(self) -> str:
        return f"{self.oauth_base_url}/oauth"

    @property
    def app_store_redirect_url(self) -> str:
        return f"{self.oauth_base_url}/appstore/redirect"

    @property
    def token_url(self) -> str:
        return f"{self.api_base_url}/auth/eagle/token"

    def api_for_region(self, region: str) -> str:
        """Return the REST base URL of `region` (`US`, `EU` or `AU`)."""
        if region == "EU":
            return self.eu_api_base_url
        if region == "AU":
            return self.au_api_base_url
        return self.api_base_url
