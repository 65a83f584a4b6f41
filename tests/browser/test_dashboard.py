"""The dashboard page in a real Chromium (Debian's, driven by Playwright): sign-in (by Rocket.Chat's session
cookies, the URL fragment or the form), every tab, period and zone changes, paging and sorting, CSV downloads, the
401/403/429/503 messages; every number shown equals the API's answer to the request the page made. The Members tab:
its rows, sorting by a header (keyboard too, aria-sort), the activity filter, paging, the dormant seats' summary and
the CSV queries. The team selector (its options from /teams, the team's answers on the sections counting messages,
the other sections' notes, no teams); the channel list's posters, last posted and members (their sorts), the silent
rooms; a room's drill-down (click, Enter, back, its CSV) against channels/room. The layout at
390, 1280 and 1920 px (nothing scrolls sideways without a hint; the counters fill their row). An axe-core check (no
serious or critical violation), screenshots of each tab at each size in screenshots/, and the page's weight and time
to a drawn Users tab in screenshots/figures.json (figures, not thresholds)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import playwright.async_api as playwright_api
import pytest
from pymongo import MongoClient

from tests.support.data import seed_workspace
from tests.support.live import LiveServer
from tests.support.mongo import with_database
from tests.support.rocketchat import JOINED, message_doc, room_doc, user_doc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SIZES = {"laptop": (1280, 800), "phone": (390, 844), "wide": (1920, 1080)}

if not Path(CHROMIUM).exists():  # the test command installs it (Makefile: browser); a clear failure otherwise
    raise RuntimeError("Debian's chromium is needed for the browser tests: apt-get install chromium (make test does)")


@pytest.fixture(scope="module")
def served(mongo_url):
    client = MongoClient(mongo_url, tz_aware=True)
    name = "rc_page_" + datetime.now(UTC).strftime("%H%M%S%f")
    creds = seed_workspace(client[name], days=60, per_day=60)
    # Rocket.Chat's display name (fname) differs from the name of the busiest room, as it does for any room
    # created with a display name: the top five and the channel list must still show it under one name
    client[name].rocketchat_room.update_one({"_id": "GENERAL"}, {"$set": {"fname": "General (everyone)"}})
    # Seats nobody uses, for the Members tab: accounts made long ago that never logged in nor posted (one without a
    # name, one without a username, as a pending registration leaves it) and one deactivated (never dormant)
    joined = datetime.now(UTC) - timedelta(days=400)
    client[name].users.insert_many(
        [
            {**user_doc("idle-seat-1", "zed.idle", createdAt=joined), "name": "Zed Idle"},
            {k: v for k, v in user_doc("idle-seat-2", "yan.idle", createdAt=joined).items() if k != "name"},
            {k: v for k, v in user_doc("idle-seat-3", "x", createdAt=joined).items() if k != "username"},
            user_doc("gone-seat", "wu.gone", createdAt=joined, active=False),
        ]
    )
    teams = seed_teams(client[name])
    # Someone who writes in no team's room, just now: a team's people posting are fewer than everyone's, whatever
    # the time of day the seeded days fall on (at some hours every poster of the range had also written in a team)
    outsider = user_doc("outside-writer", "olga.outside", createdAt=joined)
    client[name].users.insert_one(outsider)
    just_now = datetime.now(UTC) - timedelta(seconds=30)
    client[name].rocketchat_message.insert_one(message_doc("outside-1", "GENERAL", just_now, outsider))
    with LiveServer(
        with_database(mongo_url, name), ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_state")
    ) as server:
        server.creds = creds
        server.teams = teams
        yield server
    client.drop_database(name)
    client.drop_database(name + "_state")
    client.close()


# The teams of the workspace: "platform" (its main room, the seeded team room, with four rooms more, one of them
# silent) and "support" (private, three channels and a group); a silent group of no team. The rooms' member counts.
TEAMS = {
    "team-platform-id": ("platform", 0, ["discussion-roadmap", "deploy-talk", "release-talk", "private-deploy"]),
    "team-support-id": ("support", 1, ["customer-talk", "incident-talk", "ticket-talk", "private-review"]),
}
SILENT = {"platform-archive": "team-platform-id", "old-announcements": None}


def seed_teams(db) -> dict[str, set[str]]:
    """The teams and member counts above; each team's rooms' ids."""
    main = db.rocketchat_room.find_one({"name": "team-platform"})
    db.rocketchat_room.update_one({"_id": main["_id"]}, {"$set": {"teamId": "team-platform-id"}})
    db.rocketchat_room.insert_many(
        [
            room_doc(f"silent-{n}", "c" if team else "p", n, **({"teamId": team} if team else {}))
            for n, team in SILENT.items()
        ]
    )
    for team, (name, kind, rooms) in TEAMS.items():
        db.rocketchat_room.update_many({"name": {"$in": rooms}}, {"$set": {"teamId": team}})
        room = main["_id"] if name == "platform" else db.rocketchat_room.find_one({"name": rooms[0]})["_id"]
        db.rocketchat_team.insert_one({"_id": team, "name": name, "type": kind, "roomId": room, "createdAt": JOINED})
    # members: 4 to 46, a room without a count (0) among them
    for i, room in enumerate(db.rocketchat_room.find({"t": {"$in": ["c", "p"]}, "name": {"$ne": "private-lunch"}})):
        db.rocketchat_room.update_one({"_id": room["_id"]}, {"$set": {"usersCount": 4 + (i * 7) % 43}})
    return {team: {r["_id"] for r in db.rocketchat_room.find({"teamId": team}, {"_id": 1})} for team in TEAMS}


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


API = "/api/v1/engagement-dashboard/"
CLIENTS = [("web", "Web"), ("desktop", "Desktop"), ("mobile", "Mobile"), ("other", "Other")]


class Page:
    """A page, every API request it made and every JSON answer it received (url -> (status, JSON body))."""

    def __init__(self, page):
        self.page = page
        self.answers: dict[str, tuple[int, dict]] = {}
        self.asked: list[dict[str, str]] = []  # the headers of every API request, in order
        self.requested: list[str] = []  # the URL of every API request for JSON, in order
        self.csv_requested: list[str] = []  # the URL of every API request for CSV, in order
        self.bytes = 0
        self._answered = asyncio.Condition()
        page.on("request", self._asked)
        page.on("response", self._seen)
        page.on("requestfailed", self._failed)

    def _asked(self, request):
        if API in request.url:
            self.asked.append(request.headers)
            if request.headers.get("accept") == "application/json":
                self.requested.append(request.url)
            elif request.headers.get("accept") == "text/csv":
                self.csv_requested.append(request.url)

    async def _seen(self, response):
        try:
            body = await response.body()
        except playwright_api.Error:  # a download or an aborted request: no body to read
            return await self._failed(response.request)
        self.bytes += len(body) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        if API in response.url and response.headers.get("content-type", "").startswith("application/json"):
            await self._note(response.url, response.status, json.loads(body))

    async def _failed(self, request):
        if API in request.url:
            await self._note(request.url, 0, {})

    async def _note(self, url: str, status: int, body: dict) -> None:
        async with self._answered:
            self.answers[url] = (status, body)
            self._answered.notify_all()

    def _latest(self, path: str, match: dict[str, str]) -> tuple[bool, dict | None]:
        """(whether the latest such request has been answered, the body of the latest one answered with 200)."""
        for url in reversed(self.requested):
            query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
            if not url.split("?")[0].endswith(path) or any(query.get(k) != v for k, v in match.items()):
                continue
            if url not in self.answers:
                return False, None
            status, body = self.answers[url]
            if status == 200:
                return True, body
        return True, None

    async def settled(self) -> None:
        """Once every API request made so far has been answered."""
        async with self._answered:
            await asyncio.wait_for(self._answered.wait_for(lambda: set(self.requested) <= self.answers.keys()), 30)

    async def answer(self, path: str, **match) -> dict:
        """The JSON answer to the latest request of this endpoint whose query has these values, once it has come
        (its body is read by an event handler that may finish just after the page has drawn it)."""

        async def latest() -> dict | None:
            async with self._answered:
                await self._answered.wait_for(lambda: self._latest(path, match)[0])
                return self._latest(path, match)[1]

        found = await asyncio.wait_for(latest(), 30)
        if found is None:
            raise AssertionError((path, match, self.requested, list(self.answers)))
        return found

    async def drawn(self, tab: str):
        await self.page.wait_for_selector(f"body[data-drawn={tab}]", state="attached", timeout=30_000)


async def open_page(browser, served, size="laptop", fragment=None, cookies=None, query=""):
    """The page signed in by the admin's token in the URL fragment unless told otherwise; `cookies` (user id, token)
    are Rocket.Chat's session cookies, set on the page's origin and path / as Rocket.Chat's web client sets them;
    `query` the address's query string (the page's choices, as a shared link carries them)."""
    width, height = SIZES[size]
    context = await browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    if cookies is not None:
        uid, token = cookies
        await context.add_cookies(
            [{"name": n, "value": v, "url": served.base_url + "/"} for n, v in (("rc_uid", uid), ("rc_token", token))]
        )
    page = Page(await context.new_page())
    creds = served.creds
    fragment = fragment if fragment is not None else f"uid={creds.admin_id}&token={creds.admin_token}"
    await page.page.goto(f"{served.base_url}/dashboard/{query}#{fragment}")
    return page


async def chart_data(page, section: str) -> list[list]:
    return await page.page.evaluate(
        "(name) => Chart.getChart(document.querySelector(`[data-section='${name}'] canvas`))"
        ".data.datasets.map((d) => d.data)",
        section,
    )


async def texts(page, selector: str) -> list[str]:
    return await page.page.eval_on_selector_all(selector, "(els) => els.map((e) => e.textContent.trim())")


async def test_users_tab_shows_the_api_numbers_and_is_fast_and_accessible(browser, served):
    began = time.perf_counter()
    page = await open_page(browser, served)
    await page.drawn("users")
    drawn_s = time.perf_counter() - began
    assert await page.page.evaluate("() => location.hash") == ""  # the credentials left the address bar
    new_users = await page.answer("users/new-users")
    assert await chart_data(page, "new-users") == [[d["users"] for d in reversed(new_users["days"])]]
    active = await page.answer("users/active-users")
    rows = list(reversed(active["month"]))
    assert await chart_data(page, "active-users") == [[r[k] for r in rows] for k in ("users", "wau", "mau")]
    posting = await page.answer("users/posting-users")
    days = list(reversed(posting["days"]))
    assert await chart_data(page, "posting-users") == [[d[k] for d in days] for k in ("users", "wau", "mau")]
    assert sum(d["users"] for d in days) > 0
    clients = await page.answer("users/clients")
    days = list(reversed(clients["days"]))
    assert await chart_data(page, "clients") == [[d[k] for d in days] for k in ("web", "desktop", "mobile", "other")]
    assert sum(d["web"] + d["desktop"] + d["mobile"] for d in days) > 0
    # the period's distinct users per client (not a sum of the days), under the chart
    totals = await texts(page, "[data-section=clients] .totals .client")
    assert totals == [f"{label} {clients['period'][k]:,}" for k, label in CLIENTS]
    counters = await texts(page, "[data-section=counters-users] .counter strong")
    last = active["month"][0]
    assert counters == [
        f"{new_users['period']['count']:,}",
        f"{last['users']:,}",
        f"{last['wau']:,}",
        f"{last['mau']:,}",
        f"{posting['period']['count']:,}",
    ]
    variation = posting["period"]["variation"]
    shown = (await texts(page, "[data-section=counters-users] .counter:nth-child(5) span"))[1]
    assert shown == f"{'+' if variation > 0 else ''}{variation:,} vs. the period before"
    week = (await page.answer("users/users-by-time-of-the-day-in-a-week"))["week"]
    cells = await page.page.eval_on_selector_all(
        ".heatmap tbody tr", "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))"
    )
    expected = {(f"{r['year']}-{r['month']:02d}-{r['day']:02d}", r["hour"]): r["users"] for r in week}
    # today's hours still to come read "–" (later today), never a 0 that looks like a quiet hour
    zone = ZoneInfo(await page.page.input_value("#zone") or "UTC")
    later = {(row[0], hour) for row in cells for hour, n in enumerate(row[1:]) if n == "–"}
    drawn_at = (datetime.now(zone) - timedelta(minutes=m) for m in (0, 5))  # the page drew it a moment ago
    assert any(
        later == {(at.strftime("%Y-%m-%d"), h) for h in range(at.hour + 1, 24)} & set(expected) for at in drawn_at
    )
    assert all(expected[cell] == 0 for cell in later)
    shown = {(row[0], hour): int(n) for row in cells for hour, n in enumerate(row[1:]) if n != "–"}
    assert shown == {cell: n for cell, n in expected.items() if cell not in later}
    assert sum(shown.values()) > 0
    hours = (await page.answer("users/chat-busier/hourly-data"))["hours"]
    assert await chart_data(page, "busier-hours") == [[h["users"] for h in reversed(hours)]]
    note = await texts(page, "[data-section=busier-hours] .note.partial")  # it shows today by default
    assert len(note) == 1 and "counted only until now" in note[0]
    days = (await page.answer("users/chat-busier/weekly-data"))["month"]
    assert await chart_data(page, "busier-days") == [[d["users"] for d in reversed(days)]]

    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page.page)
    serious = [v["id"] for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert serious == []
    SHOTS.mkdir(exist_ok=True)
    figures = {"users_tab_drawn_s": round(drawn_s, 3), "page_bytes": page.bytes, "when": datetime.now(UTC).isoformat()}
    (SHOTS / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")


# Every shown element wider inside than its box (scrollWidth > clientWidth): it scrolls sideways, or its content is
# cut. Allowed only where its card shows a visible scroll hint.
UNHINTED_OVERFLOW = """() => [document.documentElement, document.body, ...document.body.querySelectorAll("*")]
  .filter((el) => el.getClientRects().length && el.scrollWidth > el.clientWidth + 1)
  .filter((el) => !el.closest("[data-section]")?.querySelector(".scroll-hint")?.checkVisibility())
  .map((el) => `${el.tagName.toLowerCase()}.${el.className} in ${el.closest("[data-section]")?.dataset.section}: `
    + `${el.scrollWidth} > ${el.clientWidth}`)"""

ROW_FILLED = """(name) => {
  const row = document.querySelector(`[data-section=${name}]`);
  const boxes = [...row.children].map((c) => c.getBoundingClientRect());
  return { row: row.getBoundingClientRect().width, counters: boxes.reduce((sum, b) => sum + b.width, 0),
           lines: new Set(boxes.map((b) => Math.round(b.top))).size, n: boxes.length };
}"""


async def check_layout(page, size: str, counters: str | None) -> None:
    """Nothing scrolls sideways without a hint, the page no wider than the screen, and on a wide screen the
    counters fill their row (in one line)."""
    assert await page.page.evaluate(UNHINTED_OVERFLOW) == []
    assert await page.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    if counters and size == "wide":
        row = await page.page.evaluate(ROW_FILLED, counters)
        assert row["n"] >= 2 and row["lines"] == 1 and row["counters"] >= 0.95 * row["row"], row


@pytest.mark.parametrize("size", list(SIZES))
async def test_each_tab_at_each_size(browser, served, size):
    page = await open_page(browser, served, size)
    await page.drawn("users")
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / f"users-{size}.png"), full_page=True)
    if size == "laptop":  # the README's picture (docs/dashboard.png is a copy of one of them)
        await page.page.screenshot(path=str(SHOTS / "users-laptop-screen.png"))
    await check_layout(page, size, "counters-users")
    # the heat map's caption is under its table, not in it: whole on the screen, wrapped
    caption = await page.page.eval_on_selector(
        "[data-section=by-hour] .caption",
        "(c) => ({ ...c.getBoundingClientRect().toJSON(), inner: innerWidth, cut: c.scrollWidth > c.clientWidth })",
    )
    assert caption["left"] >= 0 and caption["right"] <= caption["inner"] and not caption["cut"], caption
    assert await page.page.is_visible("[data-section=by-hour] .caption")
    if size == "phone":  # 24 hours do not fit in 390 px: the heat map scrolls inside its card, and says so
        assert await page.page.is_visible("[data-section=by-hour] .scroll-hint")
    await page.page.click("#tab-messages")
    await page.drawn("messages")
    sent = await page.answer("messages/messages-sent")
    assert await chart_data(page, "messages-sent") == [[d["messages"] for d in reversed(sent["days"])]]
    origin = await page.answer("messages/origin")
    assert await chart_data(page, "origin") == [[o["messages"] for o in origin["origins"]]]
    top = (await page.answer("messages/top-five-popular-channels"))["channels"]
    assert await texts(page, "[data-section=top-five] tbody td:nth-child(3)") == [f"{c['messages']:,}" for c in top]
    await page.page.screenshot(path=str(SHOTS / f"messages-{size}.png"), full_page=True)
    await check_layout(page, size, "counters-messages")
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    listed = await page.answer("channels/list", offset="0", count="10")
    assert await texts(page, "[data-section=channel-list] tbody td:nth-child(3)") == [
        f"{c['messages']:,}" for c in listed["channels"]
    ]
    await page.page.screenshot(path=str(SHOTS / f"channels-{size}.png"), full_page=True)
    await check_layout(page, size, None)
    # the channel list fits without scrolling (on a phone each room is a block of its own): no hint needed
    assert not await page.page.is_visible("[data-section=channel-list] .scroll-hint")
    await page.page.click("#tab-members")
    await page.drawn("members")
    members = await page.answer("users/members", offset="0", count="10")
    assert await member_ids(page) == [m["user"]["_id"] for m in members["members"]]
    await page.page.screenshot(path=str(SHOTS / f"members-{size}.png"), full_page=True)
    await check_layout(page, size, None)
    # fourteen columns fit at 1280 px and more; on a phone each member is a block of its own: no hint needed
    assert not await page.page.is_visible("[data-section=member-list] .scroll-hint")
    if size == "phone":  # the stacked rows keep every figure inside the card
        cut = await page.page.eval_on_selector_all(
            "[data-section=member-list] td",
            "(cells) => cells.filter((c) => c.getBoundingClientRect().right > c.closest('section')"
            ".getBoundingClientRect().right + 1 || c.scrollWidth > c.clientWidth + 1).length",
        )
        assert cut == 0


async def test_period_zone_bots_paging_sorting_and_csv(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.select_option("#period", "30")
    await page.drawn("users")
    assert len((await page.answer("users/active-users", timezone="UTC"))["month"]) in (30, 31)
    await page.page.fill("#zone", "Asia/Kathmandu")
    await page.page.dispatch_event("#zone", "change")
    await page.drawn("users")
    # The page asked for Kathmandu's days (their local midnights are 18:15 UTC) and shows what it got.
    kathmandu = await page.answer("users/new-users", timezone="Asia/Kathmandu")
    assert kathmandu["days"] and all(d["day"].endswith("T18:15:00.000Z") for d in kathmandu["days"])
    assert await chart_data(page, "new-users") == [[d["users"] for d in reversed(kathmandu["days"])]]
    counters = await texts(page, "[data-section=counters-users] .counter strong")
    assert counters[0] == f"{kathmandu['period']['count']:,}"
    await page.page.select_option("#bots", "exclude")
    await page.drawn("users")
    await page.answer("users/users-by-time-of-the-day-in-a-week", bots="exclude", timezone="Asia/Kathmandu")
    await page.page.select_option("#period", "custom")
    await page.drawn("users")
    assert len((await page.answer("users/active-users", bots="exclude"))["month"]) == 14
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    first = await page.answer("channels/list", offset="0", count="10", sort="-messages")
    await page.page.click("[data-page='1']")
    await page.drawn("channels")
    second = await page.answer("channels/list", offset="10")
    assert second["offset"] == 10 and second["total"] == first["total"]
    assert (await texts(page, "[data-section=channel-list] .pager span"))[0].startswith("11-")
    await page.page.click("button[aria-label='Sort by Room']")
    await page.drawn("channels")
    by_name = await page.answer("channels/list", sort="-name")
    shown = await texts(page, "[data-section=channel-list] tbody td:nth-child(1)")
    assert len(shown) == len(by_name["channels"]) > 0
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=channel-list] .csv")
    download = await info.value
    text = Path(await download.path()).read_text()
    assert download.suggested_filename.startswith("channels-list_") and text.startswith('"Room type";"Name"')
    assert text.count("\n") - 1 == by_name["total"]
    await page.page.click("#tab-users")
    await page.drawn("users")
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=active-users] .csv")
    assert Path(await (await info.value).path()).read_text().startswith('"Date";"DAU";"WAU";"MAU"')


async def test_errors_are_explained_never_an_empty_chart(browser, served):
    creds = served.creds
    page = await open_page(browser, served, fragment=f"uid={creds.admin_id}&token=wrong")
    await page.page.wait_for_selector("#signin:not([hidden])")
    assert "(401)" in await page.page.text_content("#signin-message")
    await page.page.fill("#uid", creds.user_id)
    await page.page.fill("#token", creds.user_token)
    await page.page.click("#signin-form button")
    await page.drawn("users")
    problems = await texts(page, "#users .problem")
    assert len(problems) == 7 and all("(403)" in p for p in problems)
    assert await page.page.evaluate("() => document.querySelectorAll('#users canvas').length") == 6
    assert await page.page.evaluate("() => Chart.instances && Object.keys(Chart.instances).length") == 0
    for status, word in ((503, "(503)"), (429, "(429)")):
        page = await open_page(browser, served)

        async def refuse(route, _request, status=status):
            await route.fulfill(
                status=status,
                headers={"Retry-After": "7", "Content-Type": "application/json"},
                body=json.dumps({"success": False, "error": "busy"}),
            )

        await page.page.route("**/api/v1/engagement-dashboard/**", refuse)
        await page.page.reload()
        await page.drawn("users")
        problems = await texts(page, "#users .problem")
        assert len(problems) == 7 and all(word in p and "7 s" in p for p in problems)
        await page.page.wait_for_selector("#team-note:not([hidden])")  # no teams to choose from: said so
        assert await page.page.is_disabled("#team") and await page.page.text_content("#team-note") == "not available"
        await page.page.click("#tab-members")
        await page.drawn("members")
        problems = await texts(page, "#members .problem")
        assert len(problems) == 2 and all(word in p and "7 s" in p for p in problems)
        assert await page.page.evaluate("() => document.querySelectorAll('#members table').length") == 0
    await page.page.click("#signout")
    assert await page.page.evaluate("() => sessionStorage.getItem('token')") is None
    await page.page.wait_for_selector("#signin:not([hidden])")


def signed_with(asked: list[dict[str, str]], uid: str, token: str) -> bool:
    return bool(asked) and all(h.get("x-user-id") == uid and h.get("x-auth-token") == token for h in asked)


async def test_signed_in_by_the_rocket_chat_session_cookies(browser, served):
    creds = served.creds
    page = await open_page(browser, served, fragment="", cookies=(creds.admin_id, creds.admin_token))
    await page.drawn("users")
    assert await page.page.is_hidden("#signin")
    # every request carried the session's cookies as the API's headers; the token was not copied anywhere
    assert signed_with(page.asked, creds.admin_id, creds.admin_token)
    await page.answer("users/active-users")
    assert {status for status, _ in page.answers.values()} == {200}
    assert await page.page.evaluate("() => sessionStorage.getItem('token')") is None
    # signing out sets the session aside in this tab: a reload shows the form again and asks nothing with it
    await page.page.click("#signout")
    await page.page.wait_for_selector("#signin:not([hidden])")
    assert "will not use your Rocket.Chat session again" in await page.page.text_content("#signin-message")
    asked = len(page.asked)
    await page.page.reload()
    await page.page.wait_for_selector("#signin:not([hidden])")
    assert "will not use your Rocket.Chat session again" in await page.page.text_content("#signin-message")
    assert len(page.asked) == asked


async def test_a_stale_rocket_chat_session_brings_the_form_back_with_the_reason(browser, served):
    creds = served.creds
    page = await open_page(browser, served, fragment="", cookies=(creds.admin_id, "a-token-not-in-the-db"))
    await page.page.wait_for_selector("#signin:not([hidden])")
    reason = "Your Rocket.Chat session was not accepted (signed out or expired)"
    assert reason in await page.page.text_content("#signin-message")
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "signin-session-refused.png"))
    assert signed_with(page.asked, creds.admin_id, "a-token-not-in-the-db")
    await page.settled()
    assert {status for status, _ in page.answers.values()} == {401}
    # not tried again: a reload shows the form with the reason at once, no request made
    asked = len(page.asked)
    await page.page.reload()
    await page.page.wait_for_selector("#signin:not([hidden])")
    assert reason in await page.page.text_content("#signin-message")
    assert len(page.asked) == asked
    # the form still signs in (with a token of its own), and keeps doing so after a reload
    await page.page.fill("#uid", creds.admin_id)
    await page.page.fill("#token", creds.admin_token)
    await page.page.click("#signin-form button")
    await page.drawn("users")
    await page.page.reload()
    await page.drawn("users")
    assert signed_with(page.asked[asked:], creds.admin_id, creds.admin_token)


async def test_the_fragment_comes_first_and_a_session_without_the_permission_is_explained(browser, served):
    creds = served.creds
    # an explicit #uid=..&token=.. wins over the session's cookies (here a user without the permission)
    page = await open_page(browser, served, cookies=(creds.user_id, creds.user_token))
    await page.drawn("users")
    assert signed_with(page.asked, creds.admin_id, creds.admin_token)
    # the session alone: 403, said on the sign-in form (not five sections saying it), not tried again on reload
    page = await open_page(browser, served, fragment="", cookies=(creds.user_id, creds.user_token))
    await page.page.wait_for_selector("#signin:not([hidden])")
    message = await page.page.text_content("#signin-message")
    assert "(403)" in message and "view-engagement-dashboard" in message and "Rocket.Chat user" in message
    assert signed_with(page.asked, creds.user_id, creds.user_token)
    asked = len(page.asked)
    await page.page.reload()
    await page.page.wait_for_selector("#signin:not([hidden])")
    assert "(403)" in await page.page.text_content("#signin-message")
    assert len(page.asked) == asked


ACTIVE_USERS_CHART = """() => {
  const chart = Chart.getChart(document.querySelector("[data-section='active-users'] canvas"));
  const drawn = chart.getSortedVisibleDatasetMetas().map((m) => chart.data.datasets[m.index].label).reverse();
  return {
    labels: chart.data.labels,
    drawn,  // in the order drawn: the last one on top
    legend: chart.legend.legendItems.map((i) => i.text),
    sets: Object.fromEntries(chart.data.datasets.map((d, i) => [d.label, {
      data: d.data, dash: d.borderDash || [], pointStyle: d.pointStyle, width: d.borderWidth ?? 3,
      points: d.pointBackgroundColor, visible: chart.isDatasetVisible(i),
    }])),
  };
}"""


async def test_active_users_keep_mau_visible_over_wau_and_mark_today_as_partial(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    chart = await page.page.evaluate(ACTIVE_USERS_CHART)
    wau, mau = chart["sets"]["WAU"], chart["sets"]["MAU"]
    # the case: in the workspace's data everyone active this month was active this week, on some days at least
    assert any(w == m for w, m in zip(wau["data"], mau["data"], strict=True))
    # MAU drawn after (over) WAU, dashed and thinner, other points: both lines and both kinds of points show
    assert chart["drawn"].index("MAU") > chart["drawn"].index("WAU")
    assert mau["dash"] and not wau["dash"] and mau["width"] < wau["width"]
    assert mau["pointStyle"] != wau["pointStyle"] and mau["visible"] and wau["visible"]
    assert chart["legend"] == ["DAU", "WAU", "MAU"]
    # today (the range ends now, in the page's zone: the browser's, UTC here) is marked as a partial day
    zone = await page.page.input_value("#zone")
    today = await page.page.evaluate(
        "(tz) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date())", zone
    )
    assert chart["labels"][-1] == [today, "today (so far)"]
    assert all(isinstance(label, str) for label in chart["labels"][:-1])
    dau = chart["sets"]["DAU"]["points"]
    assert dau[-1] == "#fff" and len(set(dau[:-1])) == 1 and dau[0] != "#fff"  # today's point hollow
    note = await page.page.text_content("[data-section=active-users] .note")
    assert f"Today ({today}) is counted only until now: its point is drawn hollow" in note
    assert await page.page.is_visible("[data-section=active-users] .note")
    dau_counter = await texts(page, "[data-section=counters-users] .counter:nth-child(2) span")
    assert dau_counter == ["Daily active users", "today, so far"]
    # the new users' bars: today's bar is hollow, its label says so
    labels = await page.page.evaluate(
        "() => Chart.getChart(document.querySelector(\"[data-section='new-users'] canvas\")).data.labels"
    )
    assert labels[-1] == [today, "today (so far)"]


async def test_a_room_has_one_name_in_the_top_five_and_the_channel_list(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.click("#tab-messages")
    await page.drawn("messages")
    top = (await page.answer("messages/top-five-popular-channels"))["channels"]
    shown_top = dict(
        zip([c["_id"] for c in top], await texts(page, "[data-section=top-five] tbody td:nth-child(1)"), strict=True)
    )
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    listed = (await page.answer("channels/list", offset="0", count="10"))["channels"]
    shown_list = dict(
        zip(
            [c["room"]["_id"] for c in listed],
            await texts(page, "[data-section=channel-list] tbody td:nth-child(1)"),
            strict=True,
        )
    )
    both = shown_top.keys() & shown_list.keys()
    assert len(both) >= 3
    # the API names the busiest room (display name set) two ways; the page, one way: the list's `name`
    api_top = {c["_id"]: c.get("name") for c in top}
    api_list = {c["room"]["_id"]: c["room"].get("name") for c in listed}
    assert api_top["GENERAL"] != api_list["GENERAL"] == "general"
    for rid in both:
        assert shown_top[rid] == shown_list[rid] == (api_list[rid] or ", ".join(api_top_usernames(top, rid))), rid


def api_top_usernames(top: list[dict], rid: str) -> list[str]:
    return next(c["usernames"] for c in top if c["_id"] == rid)


# -- the Members tab ----------------------------------------------------------------------------------------------
async def member_ids(page) -> list[str]:
    return await page.page.eval_on_selector_all(
        "[data-section=member-list] tbody tr", "(rows) => rows.map((r) => r.dataset.id)"
    )


def local_day(iso: str | None, zone: ZoneInfo) -> str | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m-%d") if iso else None


def member_cells(member: dict, zone: ZoneInfo) -> list[str]:
    """What the table shows of a member, column by column, from the API's row."""
    user = member["user"]
    dormant = user["active"] and member["daysActive"] == 0 and member["messages"] == 0
    return [
        user.get("username") or user["_id"],
        user.get("name") or "—",
        user["type"],
        "dormant" if dormant else "yes" if user["active"] else "deactivated",
        local_day(user.get("createdAt"), zone) or "—",
        f"{member['messages']:,}",
        f"{member['channelMessages']:,}",
        f"{member['daysActive']:,}",
        *(f"{member['clients'][k]:,}" for k, _ in CLIENTS),
        local_day(member["lastActive"], zone) or "never",
        local_day(member["lastPosted"], zone) or "never",
    ]


async def shown_members(page) -> list[list[str]]:
    return await page.page.eval_on_selector_all(
        "[data-section=member-list] tbody tr", "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))"
    )


async def sort_state(page) -> dict[str, str]:
    """Each sortable column's aria-sort, by its sort key."""
    return dict(
        await page.page.eval_on_selector_all(
            "[data-section=member-list] th:has(button.sort)",
            "(ths) => ths.map((th) => [th.querySelector('button').dataset.field, th.getAttribute('aria-sort')])",
        )
    )


def csv_query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.csv_requested[-1]).query).items()}


async def test_members_tab_sorting_activity_paging_dormant_seats_and_csv(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.click("#tab-members")
    await page.drawn("members")
    zone = ZoneInfo(await page.page.input_value("#zone") or "UTC")
    first = await page.answer("users/members", offset="0", count="10", sort="-messages", activity="all")
    assert first["total"] == 32 and len(first["members"]) == 10  # the seeded 27, the 4 seats and the outsider
    assert await shown_members(page) == [member_cells(m, zone) for m in first["members"]]
    assert (await texts(page, "[data-section=member-list] .pager span"))[0] == f"1–10 of {first['total']}"
    assert await sort_state(page) == {
        "username": "none", "createdAt": "none", "messages": "descending", "channelMessages": "none",
        "daysActive": "none", "lastActive": "none", "lastPosted": "none",
    }  # fmt: skip

    # sorting by a header: descending first, then ascending; the rows in the API's order
    await page.page.click("button[aria-label='Sort by Username']")
    await page.drawn("members")
    by_name = await page.answer("users/members", sort="-username", offset="0")
    shown = await shown_members(page)
    assert shown == [member_cells(m, zone) for m in by_name["members"]]
    assert shown != [member_cells(m, zone) for m in first["members"]]
    assert (await sort_state(page))["username"] == "descending"
    # by keyboard: the header's button takes the focus and Enter sorts (ascending on the second press)
    await page.page.focus("button[aria-label^='Sort by Username']")
    await page.page.keyboard.press("Enter")
    await page.drawn("members")
    ascending = await page.answer("users/members", sort="username", offset="0")
    assert await member_ids(page) == [m["user"]["_id"] for m in ascending["members"]]
    assert (await sort_state(page))["username"] == "ascending"
    # Unicode code point order, a user without a username (null) first
    names = [m["user"].get("username") for m in ascending["members"]]
    assert names[0] is None and names[1:] == sorted(names[1:])

    # paging: the next page, then back
    await page.page.click("[data-member-page='1']")
    await page.drawn("members")
    second = await page.answer("users/members", sort="username", offset="10")
    assert await member_ids(page) == [m["user"]["_id"] for m in second["members"]]
    assert (await texts(page, "[data-section=member-list] .pager span"))[0] == f"11–20 of {second['total']}"
    assert not await page.page.is_disabled("[data-member-page='-1']")
    assert set(await member_ids(page)).isdisjoint(m["user"]["_id"] for m in ascending["members"])
    await page.page.click("[data-member-page='-1']")
    await page.drawn("members")
    assert await member_ids(page) == [m["user"]["_id"] for m in ascending["members"]]
    assert await page.page.is_disabled("[data-member-page='-1']")

    # the CSV: every row of the table's choice, the same query without offset or count
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=member-list] .csv")
    download = await info.value
    query = csv_query(page)
    assert query.keys() == {"start", "end", "timezone", "bots", "sort", "activity", "format"}
    assert (query["sort"], query["activity"], query["format"]) == ("username", "all", "csv")
    text = Path(await download.path()).read_text()
    assert text.startswith('"Username";"Name";"Type";"Active";"Created";"Messages";"Channel Messages"')
    assert text.count("\n") - 1 == first["total"]

    # the activity filter: active members only
    await page.page.select_option("#activity", "active")
    await page.drawn("members")
    active = await page.answer("users/members", activity="active", offset="0")
    assert active["members"] and await member_ids(page) == [m["user"]["_id"] for m in active["members"]]
    assert all(m["daysActive"] > 0 or m["messages"] > 0 for m in active["members"])

    # the dormant seats: their number, one click to list them longest unused first, their own CSV
    summary = await page.answer("users/members", activity="dormant", count="1")
    seats = {"idle-seat-1", "idle-seat-2", "idle-seat-3"}
    assert summary["total"] >= len(seats)
    assert (await texts(page, "[data-section=dormant-seats] .seats .big"))[0] == f"{summary['total']:,}"
    await page.page.click("#show-dormant")
    await page.drawn("members")
    dormant = await page.answer("users/members", activity="dormant", sort="lastActive", offset="0", count="10")
    assert await page.page.input_value("#activity") == "dormant"
    assert dormant["total"] == summary["total"]
    assert await shown_members(page) == [member_cells(m, zone) for m in dormant["members"]]
    listed = {m["user"]["_id"] for m in dormant["members"]}
    assert seats <= listed and "gone-seat" not in listed  # a deactivated account holds no seat
    last_active = [m["lastActive"] for m in dormant["members"]]
    never = [day for day in last_active if day is None]
    assert last_active[: len(never)] == never and last_active[len(never) :] == sorted(last_active[len(never) :])
    assert (await sort_state(page))["lastActive"] == "ascending"
    assert all(cells[3] == "dormant" for cells in await shown_members(page))
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=dormant-seats] .csv")
    query = csv_query(page)
    assert (query["sort"], query["activity"], query["format"]) == ("lastActive", "dormant", "csv")
    assert "offset" not in query and "count" not in query
    assert Path(await (await info.value).path()).read_text().count("\n") - 1 == summary["total"]
    # leaving the dormant seats goes back to the default order
    await page.page.select_option("#activity", "all")
    await page.drawn("members")
    await page.answer("users/members", activity="all", sort="-messages", offset="0", count="10")

    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page.page)
    serious = [v["id"] for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert serious == []


# -- teams, the channel list's new columns and filter, a room's drill-down ----------------------------------------
async def team_notes(page) -> dict[str, str]:
    """Each card's word on the team choice, by section."""
    return dict(
        await page.page.eval_on_selector_all(
            ".card[data-section]:has(.team-note)",
            "(cards) => cards.map((c) => [c.dataset.section, c.querySelector('.team-note').textContent])",
        )
    )


async def test_the_team_selector_narrows_the_sections_counting_messages(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    listed = (await page.answer("teams"))["teams"]
    assert [t["name"] for t in listed] == ["platform", "support"]
    await page.page.wait_for_selector("#team:not([disabled])")
    assert await texts(page, "#team option") == ["All teams", "platform", "support"]
    assert await team_notes(page) == {}  # all teams: nothing to say
    everyone = await page.answer("users/posting-users")
    await page.page.select_option("#team", label="platform")
    await page.drawn("users")
    team = "team-platform-id"
    posting = await page.answer("users/posting-users", teamId=team)
    days = list(reversed(posting["days"]))
    assert await chart_data(page, "posting-users") == [[d[k] for d in days] for k in ("users", "wau", "mau")]
    assert 0 < posting["period"]["count"] < everyone["period"]["count"]
    shown = await texts(page, "[data-section=counters-users] .counter:nth-child(5) span")
    assert shown[0] == "People posting" and shown[-1] == "in team platform"
    assert (await texts(page, "[data-section=counters-users] .counter:nth-child(5) strong")) == [
        f"{posting['period']['count']:,}"
    ]
    # the sections that count messages say the team; the others (and the Members tab's) that they count every team
    everyone_else = "All teams: the team choice counts messages only"
    assert await team_notes(page) == {
        "posting-users": "Team platform only",
        **dict.fromkeys(
            ["active-users", "new-users", "clients", "by-hour", "busier-hours", "busier-days"], everyone_else
        ),
        **dict.fromkeys(["messages-sent", "origin", "top-five", "channel-list"], "Team platform only"),
        **dict.fromkeys(["dormant-seats", "member-list"], everyone_else),
    }
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "users-team-laptop.png"), full_page=True)
    # the sections without the team were asked without it
    assert [u for u in page.requested if "teamId" in u and "posting-users" not in u] == []

    await page.page.click("#tab-messages")
    await page.drawn("messages")
    sent = await page.answer("messages/messages-sent", teamId=team)
    assert await chart_data(page, "messages-sent") == [[d["messages"] for d in reversed(sent["days"])]]
    counters = await texts(page, "[data-section=counters-messages] .counter strong")
    assert counters == [f"{sent['period']['count']:,}", f"{sent['yesterday']['count']:,}"]
    origin = await page.answer("messages/origin", teamId=team)
    assert await chart_data(page, "origin") == [[o["messages"] for o in origin["origins"]]]
    assert {o["t"]: o["messages"] for o in origin["origins"]}["d"] == 0  # a team has no direct rooms
    top = (await page.answer("messages/top-five-popular-channels", teamId=team))["channels"]
    assert top and {c["_id"] for c in top} <= served.teams[team]
    assert await texts(page, "[data-section=top-five] tbody td:nth-child(3)") == [f"{c['messages']:,}" for c in top]
    async with page.page.expect_download():
        await page.page.click("[data-section=messages-sent] .csv")
    assert csv_query(page)["teamId"] == team
    await page.page.screenshot(path=str(SHOTS / "messages-team-laptop.png"), full_page=True)
    # back to every team: the sections' notes go, the requests lose the team
    await page.page.select_option("#team", "")
    await page.drawn("messages")
    assert await team_notes(page) == {}
    assert "teamId" not in page.requested[-1]


async def test_no_teams_leaves_the_selector_disabled_and_says_so(browser, served):
    page = await open_page(browser, served)
    await page.page.route(
        "**/engagement-dashboard/teams?*",
        lambda route: route.fulfill(json={"teams": [], "success": True}),
    )
    await page.page.reload()
    await page.drawn("users")
    await page.page.wait_for_selector("#team-note:not([hidden])")
    assert await page.page.is_disabled("#team")
    assert await page.page.text_content("#team-note") == "none on this server"


def list_cells(row: dict, zone: ZoneInfo) -> list[str]:
    """The channel list's new columns (posters, last posted, members) of a row, from the API's."""
    return [f"{row['posters']:,}", local_day(row["lastPosted"], zone) or "never", f"{row['members']:,}"]


async def shown_rooms(page) -> tuple[list[str], list[list[str]]]:
    """The rows' room ids and their posters, last posted and members cells."""
    rows = await page.page.eval_on_selector_all(
        "[data-section=channel-list] tbody tr",
        "(rows) => rows.map((r) => [r.dataset.id, [...r.cells].slice(5, 8).map((c) => c.textContent)])",
    )
    return [r[0] for r in rows], [r[1] for r in rows]


async def test_channels_new_columns_their_sorts_and_the_silent_rooms(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    zone = ZoneInfo(await page.page.input_value("#zone") or "UTC")
    first = await page.answer("channels/list", offset="0", count="10", sort="-messages")
    ids, cells = await shown_rooms(page)
    assert ids == [c["room"]["_id"] for c in first["channels"]]
    assert cells == [list_cells(c, zone) for c in first["channels"]]
    assert [t.rstrip("\xa0↓") for t in await texts(page, "[data-section=channel-list] thead th")] == [
        "Room", "Type", "Messages", "Period before", "Change", "Posters", "Last posted", "Members", "Created", "Updated"
    ]  # fmt: skip
    # each new column sorts (descending first), by click or by Enter on its header's button
    for field, title, key in (("posters", "Posters", "click"), ("members", "Members", "Enter")):
        if key == "click":
            await page.page.click(f"button[aria-label='Sort by {title}']")
        else:
            await page.page.focus(f"button[aria-label='Sort by {title}']")
            await page.page.keyboard.press("Enter")
        await page.drawn("channels")
        rows = (await page.answer("channels/list", sort=f"-{field}", offset="0"))["channels"]
        assert await shown_rooms(page) == ([c["room"]["_id"] for c in rows], [list_cells(c, zone) for c in rows])
        values = [c[field] for c in rows]
        assert values == sorted(values, reverse=True) and len(set(values)) > 1, (field, values)
        th = f"[data-section=channel-list] th:has(button[aria-label='Sort by {title}'])"
        assert await page.page.get_attribute(th, "aria-sort") == "descending"
    await page.page.click("button[aria-label='Sort by Last posted']")
    await page.drawn("channels")
    await page.page.click("button[aria-label='Sort by Last posted']")  # ascending: the oldest first
    await page.drawn("channels")
    rows = (await page.answer("channels/list", sort="lastPosted", offset="0"))["channels"]
    assert await shown_rooms(page) == ([c["room"]["_id"] for c in rows], [list_cells(c, zone) for c in rows])

    # the silent rooms: channels and groups without a message in the period, whatever their team
    await page.page.select_option("#room-activity", "silent")
    await page.drawn("channels")
    silent = await page.answer("channels/list", activity="silent", offset="0", sort="lastPosted")
    assert {"silent-platform-archive", "silent-old-announcements"} <= {c["room"]["_id"] for c in silent["channels"]}
    assert all(c["messages"] == 0 and c["posters"] == 0 and c["room"]["t"] in "cp" for c in silent["channels"])
    assert await shown_rooms(page) == (
        [c["room"]["_id"] for c in silent["channels"]],
        [list_cells(c, zone) for c in silent["channels"]],
    )
    caption = await page.page.text_content("[data-section=channel-list] .caption")
    assert caption.startswith("Silent: channels and groups without a message in the period.")
    # with a team: the team's silent rooms only; the CSV asks the same rows
    await page.page.select_option("#team", label="platform")
    await page.drawn("channels")
    team = "team-platform-id"
    silent = await page.answer("channels/list", activity="silent", teamId=team, offset="0")
    assert "silent-platform-archive" in {c["room"]["_id"] for c in silent["channels"]}
    assert {c["room"]["_id"] for c in silent["channels"]} <= served.teams[team]
    assert (await shown_rooms(page))[0] == [c["room"]["_id"] for c in silent["channels"]]
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=channel-list] .csv")
    query = csv_query(page)
    assert query.keys() == {"start", "end", "timezone", "bots", "sort", "activity", "teamId", "format"}
    assert (query["sort"], query["activity"], query["teamId"]) == ("lastPosted", "silent", team)
    text = Path(await (await info.value).path()).read_text()
    assert text.splitlines()[0].endswith('"Posters";"Last Posted";"Members"')
    assert text.count("\n") - 1 == silent["total"]
    # all rooms again: the team's rooms with messages
    await page.page.select_option("#room-activity", "all")
    await page.drawn("channels")
    rows = (await page.answer("channels/list", activity=None, teamId=team, offset="0"))["channels"]
    assert rows and {c["room"]["_id"] for c in rows} <= served.teams[team]
    assert "activity" not in page.requested[-1]


async def room_shown(page) -> dict:
    """What the drill-down shows: its title, figures, charts' data and top posters."""
    return {
        "title": await page.page.text_content("#room-title"),
        "figures": await texts(page, "[data-section=room-summary] .counter strong"),
        "variation": (await texts(page, "[data-section=room-summary] .counter:first-child span"))[1],
        "days": await chart_data(page, "room-days"),
        "hours": await chart_data(page, "room-hours"),
        "posters": await page.page.eval_on_selector_all(
            "[data-section=room-posters] li",
            "(items) => items.map((i) => [i.children[0].textContent, i.children[1].textContent])",
        ),
    }


def room_expected(answer: dict, members: int) -> dict:
    """What the drill-down shows of the API's channels/room answer (and the list's member count)."""
    days = list(reversed(answer["days"]))
    period = answer["period"]
    return {
        "title": answer["room"].get("name") or answer["room"]["_id"],
        "figures": [f"{period['messages']:,}", f"{period['posters']:,}", f"{members:,}"],
        "variation": f"{'+' if period['variation'] > 0 else ''}{period['variation']:,} vs. the period before",
        "days": [[d["messages"] for d in days], [d["posters"] for d in days]],
        "hours": [[h["messages"] for h in sorted(answer["hours"], key=lambda h: h["hour"])]],
        "posters": [
            [p.get("username") or f"{p['_id']} (user gone)", f"{p['messages']:,}"] for p in answer["topPosters"]
        ],
    }


async def test_a_room_opens_its_drill_down_by_click_or_keyboard(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    rows = (await page.answer("channels/list", offset="0", count="10"))["channels"]
    # a click anywhere on the row (here its Messages cell) opens the room's drill-down in the list's place
    await page.page.click("[data-section=channel-list] tbody tr:first-child td:nth-child(3)")
    await page.drawn("channels")
    first = rows[0]["room"]["_id"]
    answer = await page.answer("channels/room", roomId=first)
    assert answer["topPosters"] and sum(d["messages"] for d in answer["days"]) == answer["period"]["messages"] > 0
    assert await room_shown(page) == room_expected(answer, rows[0]["members"])
    assert await page.page.is_hidden("[data-section=channel-list]")
    assert await page.page.evaluate("() => document.activeElement.id") == "room-title"
    asked = {k: v[0] for k, v in parse_qs(urlparse(page.requested[-1]).query).items()}
    assert asked.keys() == {"start", "end", "timezone", "bots", "roomId"}
    # its CSV: the same query (its end, now, a moment later), format=csv; the days
    async with page.page.expect_download() as info:
        await page.page.click("[data-section=room-summary] .csv")
    query = csv_query(page)
    assert query["end"] >= asked["end"]
    assert {**query, "end": asked["end"]} == {**asked, "format": "csv"}
    text = Path(await (await info.value).path()).read_text()
    assert text.startswith('"Date";"Messages";"Posters"') and text.count("\n") - 1 == len(answer["days"])

    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page.page)
    serious = [v["id"] for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert serious == []
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "channels-drilldown-laptop.png"), full_page=True)

    # back to the list, the focus on the room's name; Enter on another room's name opens that one
    await page.page.click("#room-back")
    await page.drawn("channels")
    assert await page.page.is_hidden("#room")
    assert await page.page.evaluate("() => document.activeElement.closest('tr')?.dataset.id") == first
    await page.page.focus("[data-section=channel-list] tbody tr:nth-child(2) .room-open")
    await page.page.keyboard.press("Enter")
    await page.drawn("channels")
    second = rows[1]["room"]["_id"]
    assert await room_shown(page) == room_expected(
        await page.answer("channels/room", roomId=second), rows[1]["members"]
    )
    # the period changes with the room open: the room's answer for the new period
    await page.page.select_option("#period", "30")
    await page.drawn("channels")
    month = await page.answer("channels/room", roomId=second)
    assert len(month["days"]) in (30, 31)
    assert await room_shown(page) == room_expected(month, rows[1]["members"])


async def test_phone_team_filtered_messages_and_a_room_drill_down(browser, served):
    page = await open_page(browser, served, "phone")
    await page.drawn("users")
    await page.page.wait_for_selector("#team:not([disabled])")
    await page.page.select_option("#team", label="platform")
    await page.page.click("#tab-messages")
    await page.drawn("messages")
    await page.answer("messages/messages-sent", teamId="team-platform-id")
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "messages-team-phone.png"), full_page=True)
    await check_layout(page, "phone", None)
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    await check_layout(page, "phone", None)
    assert not await page.page.is_visible("[data-section=channel-list] .scroll-hint")
    await page.page.click("[data-section=channel-list] tbody tr:first-child .room-open")
    await page.drawn("channels")
    await page.answer("channels/room")
    await page.page.screenshot(path=str(SHOTS / "channels-drilldown-phone.png"), full_page=True)
    await check_layout(page, "phone", None)


async def test_a_failing_drill_down_says_so_once_with_a_retry_when_the_api_says_when(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    rows = (await page.answer("channels/list", offset="0", count="10"))["channels"]
    cards = ["room-days", "room-hours", "room-posters"]

    # a room gone since the list was drawn: the real API's 404 for a room it does not know
    async def gone(route, request):
        await route.continue_(url=request.url.replace(f"roomId={rows[0]['room']['_id']}", "roomId=no-such-room"))

    await page.page.route("**/engagement-dashboard/channels/room?*", gone)
    await page.page.click("[data-section=channel-list] tbody tr:first-child .room-open")
    await page.drawn("channels")
    problems = await texts(page, "#room .problem")
    assert len(problems) == 1 and "(404)" in problems[0] and "room" in problems[0].lower(), problems
    assert [await page.page.is_hidden(f"[data-section={c}]") for c in cards] == [True] * 3
    assert await page.page.is_hidden("[data-section=room-summary] .csv")
    assert await page.page.query_selector_all("#room .retry") == []  # no Retry-After: nothing to wait for
    assert await page.page.is_visible("#room-back")  # the way back stays
    await page.page.unroute("**/engagement-dashboard/channels/room?*", gone)

    # busy (503, Retry-After: 1): one error saying when, and a retry that opens the room once the wait is over
    refused: list[str] = []

    async def busy_once(route, request):
        if refused:
            return await route.continue_()
        refused.append(request.url)
        await route.fulfill(
            status=503,
            headers={"Retry-After": "1", "Content-Type": "application/json"},
            body=json.dumps({"success": False, "error": "busy"}),
        )

    await page.page.route("**/engagement-dashboard/channels/room?*", busy_once)
    await page.page.click("#room-back")
    await page.drawn("channels")
    await page.page.click("[data-section=channel-list] tbody tr:nth-child(2) .room-open")
    await page.drawn("channels")
    problems = await texts(page, "#room .problem")
    assert len(problems) == 1 and "(503)" in problems[0] and "1 s" in problems[0], problems
    assert [await page.page.is_hidden(f"[data-section={c}]") for c in cards] == [True] * 3
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "channels-drilldown-failed-laptop.png"))
    await page.page.click("#room .retry:not([disabled])")  # waits until the retry is offered
    await page.drawn("channels")
    second = rows[1]["room"]["_id"]
    assert await page.page.query_selector_all("#room .problem") == []
    assert [await page.page.is_visible(f"[data-section={c}]") for c in cards] == [True] * 3
    assert await room_shown(page) == room_expected(
        await page.answer("channels/room", roomId=second), rows[1]["members"]
    )
    assert len(refused) == 1


async def test_the_channel_list_and_a_room_show_their_dates_in_the_pages_zone(browser, served):
    page = await open_page(browser, served)
    await page.drawn("users")
    tz = "Pacific/Pago_Pago"  # UTC-11: a room made at midnight UTC was made the day before there
    await page.page.fill("#zone", tz)
    await page.page.dispatch_event("#zone", "change")
    await page.drawn("users")
    await page.page.click("#tab-channels")
    await page.drawn("channels")
    zone = ZoneInfo(tz)
    listed = (await page.answer("channels/list", timezone=tz, offset="0", count="10"))["channels"]
    shown = await page.page.eval_on_selector_all(
        "[data-section=channel-list] tbody tr",
        "(rows) => rows.map((r) => [...r.cells].slice(5).map((c) => c.textContent))",
    )
    expected = [
        [
            *list_cells(c, zone),
            local_day(c["room"].get("ts"), zone) or "—",
            local_day(c["room"].get("_updatedAt"), zone) or "—",
        ]
        for c in listed
    ]
    assert shown == expected
    # the case: some of those days differ from the UTC ones
    assert any(local_day(c["room"]["ts"], zone) != c["room"]["ts"][:10] for c in listed)
    assert any(c["lastPosted"] for c in listed)
    # a room's drill-down: its creation day in the zone too
    await page.page.click("[data-section=channel-list] tbody tr:first-child .room-open")
    await page.drawn("channels")
    room = (await page.answer("channels/room", timezone=tz))["room"]
    caption = await page.page.text_content("[data-section=room-summary] .caption")
    assert f"created {local_day(room['ts'], zone)}." in caption and f"in {tz}" in caption


async def test_the_team_choice_is_in_the_address_and_an_unknown_one_falls_back_to_all_teams(browser, served):
    team = "team-platform-id"
    page = await open_page(browser, served)
    await page.drawn("users")
    await page.page.wait_for_selector("#team:not([disabled])")
    await page.page.select_option("#team", label="platform")
    await page.drawn("users")
    assert parse_qs(urlparse(page.page.url).query) == {"team": [team]}
    # a reload keeps the team: the selector, the requests, the notes by the team's name
    await page.page.reload()
    await page.drawn("users")
    assert await page.page.input_value("#team") == team
    await page.answer("users/posting-users", teamId=team)
    assert (await team_notes(page))["posting-users"] == "Team platform only"
    shown = await texts(page, "[data-section=counters-users] .counter:nth-child(5) span")
    assert shown[-1] == "in team platform"
    # back to all teams: out of the address
    await page.page.select_option("#team", "")
    await page.drawn("users")
    assert urlparse(page.page.url).query == ""

    # a shared link: another tab opens on the team, on the tab it is given or the first
    page = await open_page(browser, served, query="?team=team-support-id")
    await page.drawn("users")
    assert await page.page.input_value("#team") == "team-support-id"
    await page.page.click("#tab-messages")
    await page.drawn("messages")
    await page.answer("messages/messages-sent", teamId="team-support-id")
    assert [u for u in page.requested if "teamId" in u and "team-support-id" not in u] == []

    # an unknown team (deleted since, or a typo): all teams, a visible note, never asked with it
    page = await open_page(browser, served, "phone", query="?team=no-such-team")
    await page.drawn("users")
    SHOTS.mkdir(exist_ok=True)
    await page.page.screenshot(path=str(SHOTS / "team-unknown-phone.png"))
    await check_layout(page, "phone", None)
    assert await page.page.input_value("#team") == ""
    assert await page.page.is_visible("#team-note")
    note = await page.page.text_content("#team-note")
    assert "no-such-team" in note and "all teams" in note.lower(), note
    assert [u for u in page.requested if "teamId" in u] == []
    assert urlparse(page.page.url).query == ""
    await page.answer("users/posting-users")
    assert await team_notes(page) == {}
    # choosing a team puts the note away
    await page.page.select_option("#team", label="platform")
    await page.drawn("users")
    assert await page.page.is_hidden("#team-note")
    # on a laptop too the word sits under the selector, the header's row no wider
    page = await open_page(browser, served, query="?team=no-such-team")
    await page.drawn("users")
    await page.page.screenshot(path=str(SHOTS / "team-unknown-laptop.png"))
    await check_layout(page, "laptop", None)
