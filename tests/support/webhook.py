"""A Rocket.Chat incoming webhook stand-in: an aiohttp app that keeps what is posted to /hooks/<id>/<token> and
answers with the statuses it is told (then 200)."""

from __future__ import annotations

from aiohttp import web

HOOK_ID, HOOK_TOKEN = "65f0a1b2c3d4e5f6a7b8c9d0", "S3cretT0kenS3cretT0ken"
HOOK_PATH = f"/hooks/{HOOK_ID}/{HOOK_TOKEN}"


class Receiver:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict] = []
        self.app = web.Application()
        self.app.router.add_post(HOOK_PATH, self.hook)
        self.url = ""

    async def hook(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"success": status == 200}, status=status)

    async def start(self, aiohttp_server) -> Receiver:
        server = await aiohttp_server(self.app, access_log=None)  # it stands for Rocket.Chat: its own log aside
        self.url = str(server.make_url(HOOK_PATH))
        return self
