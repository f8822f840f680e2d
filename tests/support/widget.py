"""Herald's notification center as the browser tests see it (herald_live/templates/herald/bell.html)."""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, WebSocket, expect

from tests.support.browser import submit_login


class Widget:
    """The bell, its panel and the toasts of one page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.locator("#herald-root")
        self.bell = page.locator("#herald-bell")
        self.badge = page.locator("#herald-root .herald-badge")
        self.panel = page.locator("#herald-panel")
        self.toasts = page.locator("#herald-toasts .herald-toast")
        self.more_toasts = page.locator("#herald-toasts .herald-toast-more")
        self.announcer = page.locator("#herald-announcer")

    def tab(self, name: str) -> Locator:
        return self.page.locator(f"#herald-tab-{name}")

    def items(self, tab: str = "unread") -> Locator:
        return self.page.locator(f"#herald-tabpanel-{tab} .herald-item")

    def item(self, text: str, tab: str = "unread") -> Locator:
        return self.items(tab).filter(has=self.page.locator(".herald-verb", has_text=text))

    def verbs(self, tab: str = "unread") -> list[str]:
        return self.page.locator(f"#herald-tabpanel-{tab} .herald-item .herald-verb").all_inner_texts()

    def ids(self, tab: str = "unread") -> list[str]:
        return [li.get_attribute("data-herald-id") for li in self.items(tab).all()]

    def more(self, tab: str = "unread") -> Locator:
        return self.page.locator(f"#herald-tabpanel-{tab} .herald-more")

    def open(self) -> Widget:
        if not self.panel.is_visible():
            self.bell.click()
        expect(self.panel).to_be_visible()
        return self

    def close(self) -> Widget:
        if self.panel.is_visible():
            self.page.keyboard.press("Escape")
        expect(self.panel).to_be_hidden()
        return self

    def expect_state(self, state: str, *, timeout: float = 10_000) -> None:
        expect(self.root).to_have_attribute("data-herald-state", state, timeout=timeout)

    def expect_unread(self, count: int, *, timeout: float = 10_000) -> None:
        expect(self.badge).to_have_attribute("data-herald-count", str(count), timeout=timeout)


class BrowserTabs:
    """One browser (a Playwright context: one cookie jar, one origin's Web Locks and BroadcastChannels) and its
    tabs, with the socket.io websockets each tab opened (docs/browser.md, "One connection per browser")."""

    def __init__(self, browser: Browser, site: str, *, init_script: str | None = None, **context_options) -> None:
        self.site = site
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context_options})
        if init_script:
            self.context.add_init_script(init_script)
        self.sockets: dict[Page, list[WebSocket]] = {}

    def log_in(self, user) -> Page:
        """The first tab: the login form, then the home page."""
        page = self.blank_tab()
        submit_login(page, self.site, user)
        return page

    def blank_tab(self) -> Page:
        page = self.context.new_page()
        opened: list[WebSocket] = []
        self.sockets[page] = opened
        page.on("websocket", lambda socket: opened.append(socket) if "/socket.io/" in socket.url else None)
        page.on("close", lambda closed: self.sockets.pop(closed, None))
        return page

    def new_tab(self, path: str = "/") -> Page:
        page = self.blank_tab()
        page.goto(f"{self.site}{path}")
        return page

    @property
    def tabs(self) -> list[Page]:
        return [page for page in self.sockets if not page.is_closed()]

    def opened(self, page: Page) -> int:
        """Socket.io websockets this tab has opened so far."""
        return len(self.sockets.get(page, []))

    def open_sockets(self) -> int:
        """Socket.io websockets open now, across every tab."""
        return sum(1 for opened in self.sockets.values() for socket in opened if not socket.is_closed())

    def expect_live(self, *, timeout: float = 10_000) -> None:
        for page in self.tabs:
            Widget(page).expect_state("live", timeout=timeout)

    def close(self) -> None:
        self.context.close()
