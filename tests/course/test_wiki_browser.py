"""The exported HTML site as a person sees it: Debian's chromium, headless, via Playwright."""

import struct
import zlib
from pathlib import Path

import pytest
from wiki_fixtures import wiki_course

from course.wiki.export import export_wiki

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixel colours of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, *_ = header
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):  # undo the PNG filters row by row
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 255
        rows.append(bytes(line))
        previous = line
    colours = {row[i:i + channels] for row in rows for i in range(0, stride, channels)}
    return width, height, colours


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium "
                    "(scripts/install-system-deps.sh installs it)")
def test_index_and_a_session_page_render_in_chromium(make_course, tmp_path):
    from playwright.sync_api import sync_playwright

    ws = wiki_course(make_course)
    out = tmp_path / "site"
    export_wiki(ws, "html", out)
    shot = tmp_path / "index.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto((out / "index.html").as_uri())
            assert page.title() == "Deep Learning (test)"
            assert page.locator("h1").inner_text() == "Deep Learning (test)"
            assert page.locator("table tr").count() == 4  # header and three sessions
            page.screenshot(path=str(shot), full_page=True)
            page.click("text=Intro")  # the relative link to the session page works
            assert page.url.endswith("/session-01.html")
            loaded = page.eval_on_selector("main img", "img => img.complete && img.naturalWidth")
            assert loaded == 40  # the summary's image, copied beside the page, is shown
            page.screenshot(path=str(tmp_path / "session-01.png"), full_page=True)
        finally:
            browser.close()
    width, height, colours = png_pixels(shot.read_bytes())
    assert width == 1000 and height >= 300
    assert len(colours) > 20  # text, the navigation bar and the table: not a blank page
    assert bytes((0x2D, 0x4A, 0x6B)) in {c[:3] for c in colours}  # the navigation bar
