"""Herald's notification center as the browser tests see it (herald_live/templates/herald/bell.html)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


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
