"""/docs works offline: Swagger UI and every asset it loads come from this process."""

from __future__ import annotations

import re

from tests.unit.test_api_support import FakeService, client_for, fake_app


async def test_the_docs_page_loads_every_asset_from_the_api_itself() -> None:
    async with client_for(fake_app(FakeService())) as client:
        page = await client.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        loaded = {asset: (await client.get(asset)).status_code for asset in assets}

    assert page.status_code == 200
    assert assets and all(asset.startswith("/docs-assets/") for asset in assets), assets
    assert set(loaded.values()) == {200}, loaded
    assert "/openapi.json" in page.text
