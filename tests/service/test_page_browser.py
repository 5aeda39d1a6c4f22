"""The page at / in headless Chromium: cards, a forecast drawn from the bundled history and from a
dropped CSV (blank cells refused or interpolated, never 0), a training job started from the page with
its progress, a user model's versions, promotion and deletion; nothing leaves the server.

GRU_FORECAST_SCREENSHOT=docs/page.png saves the screenshot the README shows."""

import math
import os
import shutil

import pytest

from model import store
from model.datasets import DATASETS
from tests.service.conftest import copy_pretrained, outside_requests, start_server, stop_server

pytestmark = pytest.mark.browser


def wait(driver, condition, timeout=60):
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def chart_title(driver):
    """The drawn chart's title, read in one step (the chart is replaced whenever a forecast lands)."""
    return driver.execute_script("const t = document.querySelector('#chart svg title'); return t ? t.textContent : ''")


def text(driver, element_id):
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def chart_parts(driver):
    from selenium.webdriver.common.by import By

    return {cls: len(driver.find_elements(By.CSS_SELECTOR, f"#chart svg path.{cls}"))
            for cls in ("history", "forecast", "band-80", "band-95")}


def drop(driver, csv, name):
    """Drop a CSV file on the page's drop zone, as a user dragging it from a file manager."""
    driver.execute_script("""
        const file = new File([arguments[0]], arguments[1], {type: "text/csv"});
        const transfer = new DataTransfer();
        transfer.items.add(file);
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    """, csv, name)


def card_text(driver, name):
    """A model card's text, read in one step (the cards are replaced after a promotion or a training job)."""
    return driver.execute_script("const c = document.querySelector(`.card[data-model='${arguments[0]}']`); "
                                 "return c ? c.textContent : ''", name)


def is_error(driver, element_id):
    return "error" in driver.find_element("id", element_id).get_attribute("class")


def test_the_page_draws_forecasts_and_trains_offline(server, driver, tmp_path):
    from selenium.webdriver.common.by import By

    url, _ = server
    driver.get(url + "/")
    cards = driver.find_elements(By.CSS_SELECTOR, ".card[data-model]")
    assert {c.get_attribute("data-model") for c in cards} >= {"stock", "weather", "sf-temps", "ecg", "weather-type"}
    assert "test MASE" in driver.find_element(By.CSS_SELECTOR, '.card[data-model="stock"]').text

    # the first forecaster's bundled history is drawn on load; pick sf-temps, hourly, for dates on the axis
    driver.find_element(By.CSS_SELECTOR, '[data-forecast="sf-temps"]').click()
    wait(driver, lambda d: "sf-temps" in chart_title(d))
    assert chart_parts(driver) == {"history": 1, "forecast": 1, "band-80": 1, "band-95": 1}
    ticks = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#chart svg text.tick")]
    assert any(t.startswith("12-31") for t in ticks), ticks  # the future hours of 2010-12-31 on the axis

    # a CSV dropped on the page: the stock model on the last 60 closes of the bundled file
    frame = DATASETS["stock"].load().iloc[-60:]
    csv = "date,close\n" + "\n".join(f"{d},{c}" for d, c in zip(frame["date"], frame["close"], strict=True))
    driver.find_element(By.ID, "model").send_keys("stock")
    drop(driver, csv, "closes.csv")
    wait(driver, lambda d: "closes.csv" in text(d, "forecast-status"))
    assert "stock" in chart_title(driver)
    assert chart_parts(driver) == {"history": 1, "forecast": 1, "band-80": 1, "band-95": 1}

    # a blank cell is a missing value, never 0: the API's 422 and what to do, or filled when asked
    rows = csv.split("\n")
    rows[31] = rows[31].split(",")[0] + ","  # the file's line 32
    drop(driver, "\n".join(rows), "blank.csv")
    wait(driver, lambda d: "422" in text(d, "forecast-status"))
    status = text(driver, "forecast-status")
    assert is_error(driver, "forecast-status") and "1 blank cell (line 32)" in status and "interpolation" in status
    driver.find_element(By.ID, "interpolate").click()
    drop(driver, "\n".join(rows), "blank.csv")
    wait(driver, lambda d: "filled by linear interpolation" in text(d, "forecast-status"))
    assert "blank.csv" in text(driver, "forecast-status") and not is_error(driver, "forecast-status")
    assert chart_parts(driver) == {"history": 1, "forecast": 1, "band-80": 1, "band-95": 1}

    # pasted values that are too few: the API's reason, shown on the page
    driver.find_element(By.ID, "values").send_keys("1, 2, 3")
    driver.find_element(By.ID, "run-values").click()
    wait(driver, lambda d: "input_size" in text(d, "forecast-status"))

    # a training job from a CSV with a blank cell, interpolated as asked, watched to the end
    data = tmp_path / "waves.csv"
    data.write_text("v\n" + "\n".join("" if i == 100 else f"{math.sin(i / 5) + 0.01 * i:.5f}" for i in range(400)))
    driver.find_element(By.ID, "train-interpolate").click()
    driver.find_element(By.ID, "train-file").send_keys(str(data))
    for field, value in (("train-name", "from-the-page"), ("train-target", "v"), ("train-input", "20"),
                         ("train-horizon", "3"), ("train-epochs", "2")):
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#train-form button[type=submit]").click()
    finished = ("succeeded", "failed", "cancelled", "interrupted")
    wait(driver, lambda d: d.execute_script("return document.getElementById('train-status').dataset.status")
         in finished or "error" in d.find_element(By.ID, "train-status").get_attribute("class"), 180)
    status = text(driver, "train-status")
    assert driver.find_element(By.ID, "train-status").get_attribute("data-status") == "succeeded", status
    assert "epoch 2/2" in status and "train loss" in status
    progress = driver.find_element(By.ID, "train-progress")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "2"
    wait(driver, lambda d: "from-the-page" in text(d, "jobs-body"))

    # its card appears, and its Forecast button starts from the end of the CSV it was trained on
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-forecast="from-the-page"]'))
    driver.find_element(By.CSS_SELECTOR, '[data-forecast="from-the-page"]').click()
    wait(driver, lambda d: "from-the-page" in chart_title(d))
    assert "CSV it was trained on" in text(driver, "forecast-status")

    driver.find_element(By.CSS_SELECTOR, '[data-forecast="sf-temps"]').click()
    wait(driver, lambda d: "sf-temps" in chart_title(d))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(os.environ.get("GRU_FORECAST_SCREENSHOT") or str(tmp_path / "page.png"))
    assert outside_requests(driver) == []


def test_a_user_model_sorting_first_its_versions_promotion_and_deletion(tmp_path, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.select import Select

    root = tmp_path / "store"
    copy_pretrained(root, "stock")
    (root / "stock").rename(root / "aaa-mine")  # a user's model: no bundled history, sorts first
    shutil.copytree(root / "aaa-mine" / "v1", root / "aaa-mine" / "v2")
    store.set_live(root, "aaa-mine", "v2")
    url, process = start_server(root)
    try:
        driver.get(url + "/")
        # the first load draws the first model with history, not a 404 for the user's model
        wait(driver, lambda d: chart_title(d) != "")
        assert "ecg" in chart_title(driver) and not is_error(driver, "forecast-status")

        # its Forecast button says what to do instead of a 404
        driver.find_element(By.CSS_SELECTOR, '[data-forecast="aaa-mine"]').click()
        wait(driver, lambda d: "aaa-mine" in text(d, "forecast-status"))
        status = text(driver, "forecast-status")
        assert "drop a CSV" in status and "404" not in status and not is_error(driver, "forecast-status")

        # versions and promotion
        assert "live v2 of 2" in card_text(driver, "aaa-mine")
        Select(driver.find_element(By.CSS_SELECTOR, '[data-versions="aaa-mine"]')).select_by_value("v1")
        driver.find_element(By.CSS_SELECTOR, '[data-promote="aaa-mine"]').click()
        wait(driver, lambda d: "live v1 of 2" in card_text(d, "aaa-mine"))
        assert store.live_version(root, "aaa-mine") == "v1" and "v1 is live" in text(driver, "models-status")

        # what another worker made live shows on the next load
        store.set_live(root, "aaa-mine", "v2")
        driver.refresh()
        wait(driver, lambda d: "live v2 of 2" in card_text(d, "aaa-mine"))

        # deletion, after a confirmation
        driver.find_element(By.CSS_SELECTOR, '[data-delete="aaa-mine"]').click()
        wait(driver, expected_conditions.alert_is_present()).accept()
        wait(driver, lambda d: "aaa-mine deleted" in text(d, "models-status"))
        assert card_text(driver, "aaa-mine") == "" and not (root / "aaa-mine").exists()
        options = driver.find_elements(By.CSS_SELECTOR, "#model option")
        assert "aaa-mine" not in [o.get_attribute("value") for o in options]
        assert outside_requests(driver) == []
    finally:
        stop_server(process)


def test_a_panel_models_series_picked_by_id_is_drawn_with_its_forecast(tmp_path, driver):
    from selenium.webdriver.common.by import By

    from tests.model.helpers import hand_built_panel

    root = tmp_path / "store"
    store.save_version(root, "months", hand_built_panel())  # Seattle's temperature, a series per month
    url, process = start_server(root)
    try:
        driver.get(url + "/")
        assert "panel model: 48 series by month" in card_text(driver, "months")

        # its Forecast button shows the picker and draws the first series with its forecast
        driver.find_element(By.CSS_SELECTOR, '[data-forecast="months"]').click()
        wait(driver, lambda d: "series 2012-01" in text(d, "forecast-status"))
        assert driver.find_element(By.ID, "series-row").is_displayed()
        assert "months" in chart_title(driver) and "48 series by month" in text(driver, "series-count")

        # typing part of an id narrows the list; picking one draws its history and forecast
        box = driver.find_element(By.ID, "series-id")
        box.clear()
        box.send_keys("2014-1")
        listed = "return [...document.querySelectorAll('#series-ids option')].map((o) => o.value)"
        wait(driver, lambda d: d.execute_script(listed) == ["2014-10", "2014-11", "2014-12"])
        box.send_keys("1")
        wait(driver, lambda d: "series 2014-11" in text(d, "forecast-status"))
        assert not is_error(driver, "forecast-status") and "months" in chart_title(driver)
        assert chart_parts(driver) == {"history": 1, "forecast": 1, "band-80": 1, "band-95": 1}
        ticks = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#chart svg text.tick")]
        assert ticks[0] == "2014-11-17" and ticks[-1] == "2014-12-07", ticks  # its last 14 days, 7 ahead

        # an id it does not have: the API's 404, said on the page
        box.clear()
        box.send_keys("1999-01")
        driver.find_element(By.ID, "run-series").click()
        wait(driver, lambda d: "404" in text(d, "forecast-status"))
        assert "no series '1999-01'" in text(driver, "forecast-status") and is_error(driver, "forecast-status")

        # a one-series model hides the picker
        driver.find_element(By.CSS_SELECTOR, '[data-forecast="stock"]').click()
        wait(driver, lambda d: "stock" in chart_title(d))
        assert not driver.find_element(By.ID, "series-row").is_displayed()
        assert outside_requests(driver) == []
    finally:
        stop_server(process)
