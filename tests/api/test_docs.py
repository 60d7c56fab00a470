"""The interactive docs work offline: every asset they load comes from this server."""

import re

import pytest

MEDIA = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_nothing_from_another_host(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"(https?:)?//(?!test/)[a-z0-9.-]+\.[a-z]{2,}", html, re.I), "an external host is referenced"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
    assets = [a for a in assets if a.startswith("/")]
    assert any(a.endswith(".js") for a in assets)
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = next((m for ext, m in MEDIA.items() if url.endswith(ext)), "json")
        assert expected in asset.headers["content-type"], url
