"""The page at / in headless Chromium: cards, a forecast drawn from the bundled history and from a
dropped CSV, a training job started from the page with its progress; nothing leaves the server.

GRU_FORECAST_SCREENSHOT=docs/page.png saves the screenshot the README shows."""

import math
import os

import pytest

from model.datasets import DATASETS
from tests.service.conftest import outside_requests

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
    driver.execute_script("""
        const file = new File([arguments[0]], "closes.csv", {type: "text/csv"});
        const transfer = new DataTransfer();
        transfer.items.add(file);
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    """, csv)
    wait(driver, lambda d: "closes.csv" in text(d, "forecast-status"))
    assert "stock" in chart_title(driver)
    assert chart_parts(driver) == {"history": 1, "forecast": 1, "band-80": 1, "band-95": 1}

    # pasted values that are too few: the API's reason, shown on the page
    driver.find_element(By.ID, "values").send_keys("1, 2, 3")
    driver.find_element(By.ID, "run-values").click()
    wait(driver, lambda d: "input_size" in text(d, "forecast-status"))

    # a training job from a CSV, watched to the end
    data = tmp_path / "waves.csv"
    data.write_text("v\n" + "\n".join(f"{math.sin(i / 5) + 0.01 * i:.5f}" for i in range(400)))
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

    driver.find_element(By.CSS_SELECTOR, '[data-forecast="sf-temps"]').click()
    wait(driver, lambda d: "sf-temps" in chart_title(d))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(os.environ.get("GRU_FORECAST_SCREENSHOT") or str(tmp_path / "page.png"))
    assert outside_requests(driver) == []
