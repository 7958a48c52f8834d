"""A report page opened in headless Chromium (Debian's, driven by Playwright) with no network:
every name fails to resolve and every request that is not the file itself is aborted and
recorded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
DRAWN_TIMEOUT_MS = 30_000


def chromium() -> str:
    """The system Chromium (.ci/run installs it); without it the browser tests skip, except
    on CI, where they fail."""
    found = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    if found is None:
        message = "no chromium on PATH (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class OpenedReport:
    page: Any  # playwright's Page
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    blocked: list[str] = field(default_factory=list)  # those that would have left the file

    def figure(self, name: str) -> tuple[str, str]:
        """A headline figure: its data-value and the text shown."""
        element = self.page.locator(f"[data-figure='{name}']").first
        return element.get_attribute("data-value"), element.inner_text().split("\n")[0].strip()

    def drawn_charts(self) -> dict[str, int]:
        """Per chart element, the svg and canvas elements Vega drew in it."""
        return self.page.eval_on_selector_all(
            ".chart",
            "charts => Object.fromEntries(charts.map(c => "
            "[c.id.replace('chart-', ''), c.querySelectorAll('svg.marks, canvas.marks').length]))",
        )


@contextmanager
def opened_report(path: Path, width: int = 1400, height: int = 1000) -> Iterator[OpenedReport]:
    """The report at `path`, once every chart has drawn (or failed to)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            opened = OpenedReport(page)
            page.on("request", lambda request: opened.requests.append(request.url))
            own = path.resolve().as_uri()

            def only_the_file(route: Any) -> None:
                if route.request.url == own:
                    route.continue_()
                else:
                    opened.blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_file)
            page.goto(own)
            page.wait_for_selector("body:not([data-charts='pending'])", timeout=DRAWN_TIMEOUT_MS)
            yield opened
        finally:
            browser.close()
