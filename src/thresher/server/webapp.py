"""The browser app: `web/` is built by Vite into `server/webapp/`, served here at `/`.

Paths under the API are never answered here. Any other path that is not a built file gets
`index.html`, so a reload on a client-side route (`/queue/...`) still opens the app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

WEBAPP = Path(__file__).with_name("webapp")

_NOT_BUILT = """<!doctype html><title>Thresher</title>
<p>The web app is not built. Run <code>make web</code> (Node.js and npm), then reload.</p>
<p>The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p>"""

# Built assets have content-hashed names: cache them for good. index.html must be re-read.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_NO_CACHE = {"Cache-Control": "no-cache"}
_SECURITY = {
    # Record content is untrusted: no inline scripts, no plugins, nothing framed, no referrer.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install(app: FastAPI, api_prefix: str, root: Path = WEBAPP) -> None:
    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    def webapp(path: str) -> FileResponse | HTMLResponse:
        if path == api_prefix.strip("/") or path.startswith(api_prefix.strip("/") + "/"):
            raise HTTPException(404)
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, headers=_SECURITY)
        target = (root / path).resolve()
        if path and target.is_file() and target.is_relative_to(root.resolve()):
            cache = _IMMUTABLE if target.parent.name == "assets" else _NO_CACHE
            return FileResponse(target, headers={**cache, **_SECURITY})
        return FileResponse(index, headers={**_NO_CACHE, **_SECURITY})
