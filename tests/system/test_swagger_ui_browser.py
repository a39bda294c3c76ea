"""Swagger UI in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by selenium against `taskapp serve`. Authorize with a token, create a task, list tasks,
and read the answers off the page, under the page's strict Content-Security-Policy."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.served import Served
from tests.support.users import new_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Chromium and ChromeDriver are not installed (Debian: apt-get install chromium chromium-driver; "
    ".ci/run installs them)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def served_docs(database):
    server = Served(database.app_url, workers=1, threads=4)
    yield server
    server.close()


@pytest.fixture()
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def operation(driver, method: str, path: str):
    """The opblock of one operation, expanded, with "Try it out" switched on."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_SECONDS)
    block = wait.until(ready.presence_of_element_located((
        By.XPATH,
        f"//div[contains(@class, 'opblock-{method}')]"
        f"[.//*[contains(@class, 'opblock-summary-path') and @data-path='{path}']]",
    )))
    driver.execute_script("arguments[0].scrollIntoView(true);", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    user_id = wait.until(lambda _: block.find_elements(By.CSS_SELECTOR, "input[placeholder='user_id']"))[0]
    user_id.clear()
    user_id.send_keys("me")
    return block


def execute(driver, block) -> tuple[str, dict | list]:
    """Press Execute; the status code and the response body shown on the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    block.find_element(By.CSS_SELECTOR, "button.execute").click()
    wait = WebDriverWait(driver, WAIT_SECONDS)
    status = wait.until(lambda _: block.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))[0].text.strip()
    body = wait.until(lambda _: block.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description pre"))[0].text
    return status, json.loads(body)


def test_authorize_create_and_list_tasks_in_swagger_ui(served_docs, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    user = new_user("swagger")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.get(f"{served_docs.url}/api/docs")
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize"))).click()
    token_input = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
    token_input.send_keys(user.token)
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.btn-done").click()

    create = operation(browser, "post", "/api/{user_id}/tasks")
    body = create.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    body.clear()
    body.send_keys(json.dumps({"title": "Tried in Swagger UI", "priority": "high", "tags": ["docs"]}))
    status, created = execute(browser, create)
    assert status == "201"
    assert created["title"] == "Tried in Swagger UI" and created["user_id"] == user.sub

    listing = operation(browser, "get", "/api/{user_id}/tasks")
    status, tasks = execute(browser, listing)
    assert status == "200"
    assert [task["title"] for task in tasks] == ["Tried in Swagger UI"]

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "swagger-ui.png"))
    assert os.path.getsize(ARTIFACTS / "swagger-ui.png") > 10_000
    console = [entry["message"] for entry in browser.get_log("browser")]
    blocked = [message for message in console if "Content Security Policy" in message]
    assert blocked == [], "the page's own assets must satisfy its CSP"
