"""The dashboard page at /dashboard/: a fixed set of static files, each with a strict Content-Security-Policy
(no inline script, nothing from another origin) and cache headers (the page always revalidated, assets for
an hour). The page reads the API with the user's own id and token; nothing here touches the database."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from engagement_svc.api.errors import failure, shown_path

STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
FILES = {  # the only files served: a name never reaches the file system unless it is one of these
    "": ("index.html", "text/html"),
    "app.js": ("app.js", "text/javascript"),
    "app.css": ("app.css", "text/css"),
    "vendor/chart.umd.js": ("vendor/chart.umd.js", "text/javascript"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_CACHE = "no-cache"  # always revalidated: a new release is seen at once
ASSET_CACHE = "public, max-age=3600"


async def redirect(request: web.Request) -> web.StreamResponse:
    return web.Response(status=308, headers={**HEADERS, "Location": "/dashboard/"})


async def page_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name", "")
    found = FILES.get(name)
    if found is None:
        return failure(404, f"Not found: GET {shown_path(request.path)}", headers=HEADERS)
    path = STATIC / found[0]
    if not path.is_file():
        # Package data of every install, so only a damaged install gets here.
        message = f"The dashboard's file {found[0]} is missing from this install: reinstall engagement-svc."
        return failure(503, message, headers=HEADERS)
    cache = PAGE_CACHE if name == "" else ASSET_CACHE
    return web.FileResponse(path, headers={**HEADERS, "Cache-Control": cache, "Content-Type": found[1]})


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", redirect)
    app.router.add_get("/dashboard/", page_file)
    app.router.add_get("/dashboard/{name:.+}", page_file)
