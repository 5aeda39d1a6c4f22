"""/docs in headless Chromium: the operations render, and no request leaves localhost."""

import pytest

from tests.service.conftest import outside_requests

pytestmark = pytest.mark.browser


def test_docs_render_offline(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    url, _ = server
    driver.get(url + "/docs")
    WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    operations = driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    paths = {o.get_attribute("data-path") for o in operations}
    assert "/v1/models/{name}/forecast" in paths and "/v1/train" in paths
    driver.get(url + "/redoc")
    WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "h1")))
    outside = outside_requests(driver)
    assert outside == [], outside
