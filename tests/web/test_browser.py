"""The web interface in a real browser (offline Chromium), against a real archive server.

Every test runs with the network guard of ``conftest.py``: a request to any host but
127.0.0.1 fails the test. Expected answers come from the archive's API for the same query,
so the page is checked against the API rather than against numbers written here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.web.conftest import PASSWORDS, UiArchive, login, screenshot
from tests.web.seed import M31, SECRET_PROPOSAL

pytestmark = pytest.mark.slow  # one archive server and one browser for the whole module

SECRET_VALUES = ("tfn", "sq99", "zs", SECRET_PROPOSAL, "Secret target")


# -- helpers -------------------------------------------------------------------------------------


def wait_for_results(page: Any) -> None:
    """Wait until the results and their count (loaded after the table) are on the page."""
    page.locator("#result-count #count-fragment").wait_for()


def fresh_page(page: Any, action: Any) -> None:
    """Run ``action`` (a click, a key press) and wait for the page it brings: a new ``#main``
    (htmx swap or full load) and, when it has results, their count."""
    page.evaluate("document.getElementById('main').dataset.stale = 'yes'")
    action()
    page.wait_for_function(
        "() => { const m = document.getElementById('main');"
        " return m !== null && m.dataset.stale === undefined; }"
    )
    if page.locator("#result-count").count():
        wait_for_results(page)


def table_ids(page: Any) -> list[int]:
    return page.eval_on_selector_all(
        ".results-table tbody tr[data-frame-id]", "rows => rows.map(r => Number(r.dataset.frameId))"
    )


def query_pairs(page: Any) -> list[tuple[str, str]]:
    return sorted(parse_qsl(urlsplit(page.url).query))


def go_in_history(page: Any, step: Any) -> None:
    """Go back or forward and wait for the fresh document the page loads for it."""
    page.evaluate("window.__before_history_step = true")
    step()
    page.wait_for_function("window.__before_history_step === undefined")
    page.wait_for_load_state()
    wait_for_results(page)


def search(page: Any) -> None:
    fresh_page(page, page.locator("#search-button").click)


def secret_ids(archive: UiArchive) -> set[int]:
    return {frame_id for key, frame_id in archive.frames.items() if key.startswith("secret-")}


# -- search --------------------------------------------------------------------------------------


def test_facet_search_puts_the_query_in_the_url_and_reload_restores_it(
    ui_archive: UiArchive, page: Any
) -> None:
    page.goto(ui_archive.url("ui/"))
    wait_for_results(page)
    page.get_by_label("Site").select_option("lsc")
    page.get_by_label("Instrument").select_option("fa16")
    search(page)
    page.wait_for_url(re.compile(r"instrument_id=fa16"))
    wait_for_results(page)

    assert query_pairs(page) == [("instrument_id", "fa16"), ("site_id", "lsc")]
    expected = ui_archive.api_ids("site_id=lsc&instrument_id=fa16")
    assert expected and table_ids(page) == expected
    assert (
        page.locator("#count-fragment")
        .inner_text()
        .strip()
        .endswith((f"{len(expected)} results", f"{len(expected)} results (estimated)"))
    )

    page.reload()
    wait_for_results(page)
    assert page.get_by_label("Site").input_value() == "lsc"
    assert page.get_by_label("Instrument").input_value() == "fa16"
    assert table_ids(page) == expected
    screenshot(page, "search-results")


def test_date_search(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/"))
    page.get_by_label("From", exact=True).fill("2026-01-10")
    page.get_by_label("To", exact=True).fill("2026-01-12 12:00")
    search(page)
    page.wait_for_url(re.compile(r"start=2026-01-10"))
    wait_for_results(page)
    expected = ui_archive.api_ids("start=2026-01-10&end=2026-01-12 12:00")
    wanted = {ui_archive.frames[f"cosmos-{i}"] for i in (9, 10, 11)}
    assert set(expected) == wanted
    assert table_ids(page) == expected
    # A date the API cannot read: a message at the field, the other fields kept, no results.
    page.get_by_label("From", exact=True).fill("yesterday-ish")
    page.get_by_label("Site").select_option("cpt")
    search(page)
    error = page.locator("#start-error")
    error.wait_for()
    assert "valid date" in error.inner_text().lower()
    assert page.get_by_label("From", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Site").input_value() == "cpt"
    assert table_ids(page) == []


def test_sky_position_search_in_degrees_and_sexagesimal(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/"))
    page.get_by_label("RA", exact=True).fill("150.13")
    page.get_by_label("Dec", exact=True).fill("2.21")
    page.get_by_label("Radius").fill("0.05")
    search(page)
    page.wait_for_url(re.compile(r"radius=0.05"))
    wait_for_results(page)
    in_degrees = table_ids(page)
    expected = ui_archive.api_ids("ra=150.13&dec=2.21&radius=0.05")
    assert expected and in_degrees == expected
    assert page.locator(".skyplot .footprint").count() == len(expected)
    assert page.locator(".skyplot circle.cone").count() == 1

    # The same cone typed in sexagesimal hours/degrees gives the same rows and the same URL.
    page.get_by_label("RA", exact=True).fill("10:00:31.2")
    page.get_by_label("Dec", exact=True).fill("+02:12:36")
    page.get_by_label("Radius").fill("3'")
    search(page)
    page.wait_for_url(re.compile(r"radius=0.05(&|$)"))
    wait_for_results(page)
    assert ("ra", "150.13") in query_pairs(page)
    assert ("dec", "2.21") in query_pairs(page)
    assert table_ids(page) == in_degrees
    screenshot(page, "sky-search")

    # Across RA = 0 both neighbours are found; at the pole the polar frame.
    page.goto(ui_archive.url("ui/?ra=359.98&dec=0&radius=0.2"))
    wait_for_results(page)
    assert {ui_archive.frames["wrap-east"], ui_archive.frames["wrap-west"]} <= set(table_ids(page))
    page.goto(ui_archive.url("ui/?ra=0&dec=89.95&radius=0.2"))
    wait_for_results(page)
    assert ui_archive.frames["polar"] in table_ids(page)

    # An RA that is not an angle: a message, no search.
    page.get_by_label("RA", exact=True).fill("ten o'clock")
    search(page)
    page.locator("#ra-error").wait_for()
    assert table_ids(page) == []


def test_target_name_search(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/"))
    page.get_by_label("Target name").fill("M31")
    page.get_by_role("button", name="Resolve").click()
    status = page.locator("#resolve-status")
    status.get_by_text("M 31").wait_for()
    assert "00:42:44" in status.inner_text()
    assert float(page.get_by_label("RA", exact=True).input_value()) == pytest.approx(
        M31[0], abs=1e-4
    )
    assert float(page.get_by_label("Dec", exact=True).input_value()) == pytest.approx(
        M31[1], abs=1e-4
    )
    page.get_by_label("Radius").fill("5'")
    search(page)
    page.wait_for_url(re.compile(r"radius=0.083333"))
    wait_for_results(page)
    found = set(table_ids(page))
    assert found == {ui_archive.frames[f"m31-{i}"] for i in range(3)}
    assert ui_archive.frames["m31-far"] not in found

    # An unknown name says so and leaves the coordinates alone.
    ra_before = page.get_by_label("RA", exact=True).input_value()
    page.get_by_label("Target name").fill("No Such Object 4242")
    page.get_by_role("button", name="Resolve").click()
    status.get_by_text("No match found").wait_for()
    assert page.get_by_label("RA", exact=True).input_value() == ra_before

    # A name only our own frames know (their OBJECT header) resolves to their footprints.
    page.get_by_label("Target name").fill("Polar field")
    page.get_by_role("button", name="Resolve").click()
    status.get_by_text("archived frames").wait_for()
    assert float(page.get_by_label("Dec", exact=True).input_value()) == pytest.approx(
        89.9, abs=0.01
    )


def test_sorting_sets_ordering_and_aria_sort(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/?target_name=COSMOS"))
    wait_for_results(page)
    header = page.locator("th[data-key=exposure_time]")
    assert header.get_attribute("aria-sort") is None
    assert page.locator("th[data-key=observation_date]").get_attribute("aria-sort") == "descending"
    fresh_page(page, header.get_by_role("link").click)
    page.wait_for_url(re.compile(r"ordering=-exposure_time"))
    wait_for_results(page)
    assert header.get_attribute("aria-sort") == "descending"
    assert page.locator("th[aria-sort]").count() == 1
    assert table_ids(page) == ui_archive.api_ids("target_name=COSMOS&ordering=-exposure_time")

    fresh_page(page, header.get_by_role("link").click)
    page.wait_for_url(re.compile(r"ordering=exposure_time"))
    wait_for_results(page)
    assert header.get_attribute("aria-sort") == "ascending"
    assert table_ids(page) == ui_archive.api_ids("target_name=COSMOS&ordering=exposure_time")


def test_paging_and_page_size(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/?target_name=COSMOS"))
    wait_for_results(page)
    # The page size submits the form by itself.
    fresh_page(page, lambda: page.get_by_label("Rows per page").select_option("20"))
    page.wait_for_url(re.compile(r"limit=20"))
    wait_for_results(page)
    assert table_ids(page) == ui_archive.api_ids("target_name=COSMOS&limit=20")
    fresh_page(page, page.locator("#next-page").click)
    page.wait_for_url(re.compile(r"offset=20"))
    assert ("limit", "20") in query_pairs(page)
    second = ui_archive.api("frames/", target_name="COSMOS", limit=20, offset=20)
    assert table_ids(page) == [row["id"] for row in second["results"]]
    assert page.locator(".pager").inner_text().count("Rows 21\u2013") == 1
    # A new search starts again at page 1, keeping the page size.
    page.get_by_label("Site").select_option("cpt")
    search(page)
    page.wait_for_url(re.compile(r"site_id=cpt"))
    assert "offset" not in dict(query_pairs(page))
    assert ("limit", "20") in query_pairs(page)


def test_opening_a_frame_and_filtering_its_header(ui_archive: UiArchive, page: Any) -> None:
    frame_id = ui_archive.frames["processed"]
    page.goto(ui_archive.url("ui/?target_name=COSMOS&reduction_level=91"))
    wait_for_results(page)
    fresh_page(
        page, page.locator("td.basename a", has_text=ui_archive.specs["processed"].basename).click
    )
    page.wait_for_url(re.compile(rf"/ui/frames/{frame_id}/$"))
    page.locator("#header-table").wait_for()
    keys = page.eval_on_selector_all(
        "#header-table tr[data-key]", "rs => rs.map(r => r.dataset.key)"
    )
    # FITS card order, as in the file (the archive's headers are the image HDU's).
    assert keys[:3] == ["XTENSION", "BITPIX", "NAXIS"]
    assert (
        keys.index("SITEID") < keys.index("TELID") < keys.index("DATE-OBS") < keys.index("CRVAL1")
    )
    page.locator("#large-preview").evaluate("img => img.decode()")
    screenshot(page, "frame-page")

    page.get_by_label("Filter keywords and values").fill("EXPT")
    page.wait_for_function("document.getElementById('header-count').innerText.startsWith('1 of ')")
    # The count and the rows' visibility update in separate renders: wait for the rows too.
    page.wait_for_function(
        "[...document.querySelectorAll('#header-table tr[data-key]')]"
        ".filter(r => r.offsetParent !== null).length <= 1"
    )
    visible = page.eval_on_selector_all(
        "#header-table tr[data-key]",
        "rs => rs.filter(r => r.offsetParent !== null).map(r => r.dataset.key)",
    )
    assert visible == ["EXPTIME"]

    related = page.locator("section", has=page.locator("#related-heading"))
    assert related.get_by_role("link", name="bias_fa14_20260105_bin1x1").count() == 1
    assert related.get_by_role("link", name="flat_fa14_20260105_SKYFLAT_bin1x1_rp").count() == 1
    preview = page.locator("#large-preview")
    assert preview.get_attribute("alt").startswith("Preview of")
    assert page.evaluate("document.getElementById('large-preview').naturalWidth") > 0
    assert page.get_by_role("link", name="Download catalogue").count() == 1

    no_preview = ui_archive.frames["cosmos-3"]
    page.goto(ui_archive.url(f"ui/frames/{no_preview}/"))
    assert page.locator("#no-preview").is_visible()


def test_selecting_rows_on_two_pages_and_downloading_a_zip(
    ui_archive: UiArchive, page: Any
) -> None:
    page.goto(ui_archive.url("ui/?target_name=COSMOS&limit=20"))
    wait_for_results(page)
    first_page = table_ids(page)
    chosen = first_page[:3]
    for frame_id in chosen:
        page.locator(f"#frame-{frame_id} input.row-select").check()
    fresh_page(page, page.locator("#next-page").click)
    page.wait_for_url(re.compile(r"offset=20"))
    second_page = table_ids(page)
    for frame_id in second_page[:2]:
        page.locator(f"#frame-{frame_id} input.row-select").check()
    chosen += second_page[:2]
    assert page.locator("#selected-count").inner_text().startswith("5 selected")
    # The selection survives a reload, and its footprints are marked on the plot.
    page.reload()
    wait_for_results(page)
    assert page.locator("#selected-count").inner_text().startswith("5 selected")
    assert page.locator(".footprint.selected").count() == 2

    with page.expect_download() as download_info:
        page.locator("#zip-button").click()
    path = Path(download_info.value.path())
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        members = {Path(name).name: archive.read(name) for name in archive.namelist()}
    expected: dict[str, str] = {}
    for frame_id in chosen:
        row = ui_archive.api(f"frames/{frame_id}/")
        expected[row["filename"]] = row["version_set"][0]["md5"]
    assert set(members) == set(expected)
    for name, data in members.items():
        assert hashlib.md5(data).hexdigest() == expected[name]

    page.locator("#clear-selection").click()
    assert page.locator("#selected-count").inner_text().startswith("0 selected")


def test_the_url_is_the_query_back_and_forward(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/"))
    wait_for_results(page)
    searches = [("Site", "cpt"), ("Site", "lsc"), ("Filter", "V")]
    urls = []
    for label, value in searches:
        page.get_by_label(label).select_option(value)
        search(page)
        page.wait_for_url(re.compile(rf"={value}"))
        wait_for_results(page)
        urls.append(page.url)
    # Each history step reloads the page from the server (no copies kept in the browser).
    for _ in range(2):
        go_in_history(page, page.go_back)
    page.wait_for_url(urls[0])
    assert page.get_by_label("Site").input_value() == "cpt"
    assert table_ids(page) == ui_archive.api_ids("site_id=cpt")
    go_in_history(page, page.go_forward)
    page.wait_for_url(urls[1])
    assert page.get_by_label("Site").input_value() == "lsc"
    assert table_ids(page) == ui_archive.api_ids("site_id=lsc")

    # "This query in the API" is the same query, and lists the same frames.
    api_href = page.locator("#api-link").get_attribute("href")
    assert urlsplit(api_href).path == "/frames/"
    assert sorted(parse_qsl(urlsplit(api_href).query)) == query_pairs(page)
    data = ui_archive.api(api_href.lstrip("/"))
    assert [row["id"] for row in data["results"]] == table_ids(page)


def test_exporting_the_whole_result(ui_archive: UiArchive, page: Any) -> None:
    from astropy.io.votable import parse_single_table

    page.goto(ui_archive.url("ui/?target_name=COSMOS&limit=20"))
    wait_for_results(page)
    everything = ui_archive.api_ids("target_name=COSMOS")
    assert len(everything) > 20  # the export holds more than the page shows

    with page.expect_download() as csv_info:
        page.locator("a.export[data-format=csv]").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_info.value.path()).read_text())))
    assert [int(row["id"]) for row in rows] == everything
    assert all(row["target_name"] == "COSMOS" for row in rows)

    with page.expect_download() as votable_info:
        page.locator("a.export[data-format=votable]").click()
    table = parse_single_table(votable_info.value.path()).to_table()
    assert [int(i) for i in table["id"]] == everything
    assert table["ra"].unit == "deg"

    with page.expect_download() as json_info:
        page.locator("a.export[data-format=json]").click()
    exported = json.loads(Path(json_info.value.path()).read_text())
    assert [row["id"] for row in exported] == everything


# -- accounts and visibility --------------------------------------------------------------------


def test_login_shows_own_proprietary_frames_and_logout_hides_them(
    ui_archive: UiArchive, page: Any, context: Any
) -> None:
    secret = secret_ids(ui_archive)
    page.goto(ui_archive.url("ui/?target_name=Secret"))
    wait_for_results(page)
    assert table_ids(page) == []

    login(page, ui_archive, "alice")
    page.goto(ui_archive.url("ui/?target_name=Secret"))
    wait_for_results(page)
    assert set(table_ids(page)) == secret
    assert page.locator(
        "#f-proposal_id optgroup[label='My proposals'] option"
    ).all_inner_texts() == [SECRET_PROPOSAL]
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["sessionid"]["httpOnly"] is True
    storage = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert ui_archive.token_for("alice") not in storage

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    assert page.locator(".account").get_by_role("link", name="Log in").count() == 1
    page.go_back()  # the page is fetched again, as the anonymous user
    page.wait_for_url(re.compile(r"target_name=Secret"))
    wait_for_results(page)
    assert table_ids(page) == []
    assert "Secret target" not in page.content()


def test_an_anonymous_user_never_sees_a_proprietary_frame(ui_archive: UiArchive, page: Any) -> None:
    secret = secret_ids(ui_archive)
    page.goto(ui_archive.url("ui/?limit=500"))
    wait_for_results(page)
    html = page.content()
    text = page.inner_text("body")
    options = page.eval_on_selector_all("#search-form option", "os => os.map(o => o.value)")
    assert not secret & set(table_ids(page))
    for value in SECRET_VALUES:
        assert value not in text and value not in options, value
    for key in ui_archive.frames:
        if key.startswith("secret-"):
            assert ui_archive.specs[key].basename not in html
    assert (
        "About 36" in page.locator("#count-fragment").inner_text()
        or "36 results" in page.locator("#count-fragment").inner_text()
    )

    some_secret = min(secret)
    response = page.goto(ui_archive.url(f"ui/frames/{some_secret}/"))
    assert response.status == 404
    assert (
        "Secret" not in page.content()
        and ui_archive.specs["secret-0"].basename not in page.content()
    )

    # The whole-result download page, the exports and the resolver know nothing of them.
    page.goto(ui_archive.url("ui/download/"))
    ids = {int(i) for i in page.locator("input[name=frame_ids]").input_value().split(",")}
    assert ids and not ids & secret
    export = page.request.get(ui_archive.url("ui/export/csv/"))
    assert not {int(row["id"]) for row in csv.DictReader(io.StringIO(export.text()))} & secret
    assert page.request.get(ui_archive.url("resolve/?name=Secret target")).status == 404
    # A zip forged with their ids gives nothing.
    forged = requests.post(
        ui_archive.url("frames/zip/"), data={"frame_ids": ",".join(map(str, secret))}, timeout=30
    )
    assert forged.status_code == 404

    # Logged in as their proposal's member, the same pages show them.
    login(page, ui_archive, "alice")
    assert page.request.get(ui_archive.url("resolve/?name=Secret target")).status == 200
    response = page.goto(ui_archive.url(f"ui/frames/{some_secret}/"))
    assert response.status == 200
    assert page.locator(".badge.proprietary").is_visible()


def test_profile_token_is_shown_once_and_revocable(ui_archive: UiArchive, page: Any) -> None:
    login(page, ui_archive, "bob")
    page.goto(ui_archive.url("ui/profile/"))
    assert page.locator("#no-proposals").is_visible()
    page.locator("#create-token").click()
    first = page.locator("#new-token").inner_text().strip()
    assert (
        requests.get(
            ui_archive.url("profile/"), headers={"Authorization": f"Token {first}"}, timeout=30
        ).json()["username"]
        == "bob"
    )
    screenshot(page, "profile")
    page.goto(ui_archive.url("ui/profile/"))
    assert page.locator("#new-token").count() == 0  # shown once only
    assert first not in page.content()
    page.locator("#create-token").click()
    second = page.locator("#new-token").inner_text().strip()
    assert second != first
    old = requests.get(
        ui_archive.url("frames/"), headers={"Authorization": f"Token {first}"}, timeout=30
    )
    assert old.status_code in (401, 403)
    page.locator("#revoke-token").click()
    page.locator("#token-state").get_by_text("no API token").wait_for()
    revoked = requests.get(
        ui_archive.url("frames/"), headers={"Authorization": f"Token {second}"}, timeout=30
    )
    assert revoked.status_code in (401, 403)


# -- without JavaScript, layout, accessibility -------------------------------------------------


def test_basic_search_works_without_javascript(
    ui_archive: UiArchive, browser: Any, network_guard: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.route("**/*", network_guard.route)
    try:
        page = context.new_page()
        page.goto(ui_archive.url("ui/"))
        page.get_by_label("Site").select_option("cpt")
        page.get_by_label("Rows per page").select_option("20")
        page.locator("#search-button").click()
        page.wait_for_url(re.compile(r"site_id=cpt"))
        # The server made the address the API query: no empty parameters left.
        assert query_pairs(page) == [("limit", "20"), ("site_id", "cpt")]
        assert table_ids(page) == ui_archive.api_ids("site_id=cpt&limit=20")
        # Resolving a name works through the form too.
        page.get_by_label("Target name").fill("M 31")
        page.get_by_label("Radius").fill("5'")
        page.get_by_label("Site").select_option("")
        page.get_by_role("button", name="Resolve").click()
        page.wait_for_url(re.compile(r"ra=10.68"))
        assert set(table_ids(page)) == {ui_archive.frames[f"m31-{i}"] for i in range(3)}
        assert "resolved by the local catalogue" in page.content()
        page.goto(ui_archive.url("ui/?target_name=COSMOS&limit=20"))
        page.get_by_role("link", name="Next page").click()
        page.wait_for_url(re.compile(r"offset=20"))
        assert len(table_ids(page)) == 7
    finally:
        context.close()
    assert network_guard.blocked == []


def test_every_control_is_labelled_and_narrow_screens_work(
    ui_archive: UiArchive, page: Any
) -> None:
    page.goto(ui_archive.url("ui/?target_name=COSMOS"))
    wait_for_results(page)
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, button'))
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !(el.textContent || '').trim())
              .map(el => el.outerHTML)"""
    )
    assert unlabelled == []
    assert page.locator("a.skip-link").get_attribute("href") == "#results"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#results"

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(ui_archive.url("ui/?target_name=COSMOS"))
    wait_for_results(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page itself must not scroll sideways (the table scrolls inside)"
    form_box = page.locator("#search-form").bounding_box()
    results_box = page.locator("#results").bounding_box()
    assert form_box["y"] + form_box["height"] <= results_box["y"] + 1  # the form sits above
    screenshot(page, "search-narrow", full_page=False)


def test_root_sends_browsers_to_the_interface_and_api_clients_to_the_api(
    ui_archive: UiArchive,
) -> None:
    browser_like = requests.get(
        ui_archive.url(""),
        headers={"Accept": "text/html,*/*;q=0.8"},
        allow_redirects=False,
        timeout=30,
    )
    assert browser_like.status_code == 302 and browser_like.headers["Location"] == "/ui/"
    api = requests.get(ui_archive.url(""), headers={"Accept": "application/json"}, timeout=30)
    assert api.status_code == 200 and "frames" in api.json()
    plain = requests.get(ui_archive.url(""), timeout=30)  # requests sends */*
    assert "frames" in plain.json()


def test_main_pages_screenshots(ui_archive: UiArchive, page: Any) -> None:
    page.goto(ui_archive.url("ui/login/"))
    screenshot(page, "login")
    page.goto(ui_archive.url("ui/"))
    wait_for_results(page)
    screenshot(page, "search")
    page.goto(ui_archive.url("ui/download/?target_name=COSMOS"))
    assert page.locator("#zip-count").inner_text().startswith("27 files")
    screenshot(page, "download")
    assert PASSWORDS  # the users exist for the other tests


def test_download_script_for_the_whole_query_runs_under_dash(
    ui_archive: UiArchive, page: Any, tmp_path: Path
) -> None:
    import shutil
    import subprocess

    if not (shutil.which("dash") and (shutil.which("curl") or shutil.which("wget"))):
        pytest.skip("needs dash and curl or wget")
    page.goto(ui_archive.url("ui/?site_id=ogg&limit=5"))
    wait_for_results(page)
    assert len(table_ids(page)) == 5
    with page.expect_download() as info:
        page.locator("#script-link").click()
    script = Path(info.value.path()).read_text()
    assert script.startswith("#!/bin/sh")
    assert ui_archive.token not in script and "Token" not in script
    target = tmp_path / "files"
    run = subprocess.run(
        ["dash", str(info.value.path()), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    expected = {}
    for frame_id in ui_archive.api_ids("site_id=ogg"):  # the whole query, not one page
        row = ui_archive.api(f"frames/{frame_id}/")
        expected[row["filename"]] = row["version_set"][0]["md5"]
    got = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in target.iterdir()}
    assert len(expected) > 5 and got == expected
