#!/usr/bin/env python3
"""Drives a real headless Chromium (through chromedriver and Selenium) over a running
`cairn serve`, as an analyst would: the list renders and filters, the keyboard opens
an incident, the timeline is drawn, triage round-trips, Export downloads a ZIP, and
no probe written into the evidence or a request runs a script.

    check_pages.py BASE_URL --incidents N --high N --hostile ID --download DIR [--screenshots DIR]

Prints one line per check ("ok …" or "FAIL …") and exits 1 if any failed.
"""
import argparse
import os
import shutil
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

PROBES = [
    "<script>document.title='pwned-script'</script>",
    "\"><img src=x onerror=\"document.title='pwned-img'\">",
    "<svg onload=\"document.title='pwned-svg'\">",
    "javascript:document.title='pwned-url'",
]

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("--incidents", type=int, required=True)
parser.add_argument("--high", type=int, required=True)
parser.add_argument("--hostile", type=int, required=True)
parser.add_argument("--hostile-sighting", type=int, required=True)
parser.add_argument("--hostile-packet", type=int, required=True)
parser.add_argument("--download", required=True)
parser.add_argument("--upload", help="a file to upload through the upload page")
parser.add_argument("--screenshots")
args = parser.parse_args()
base = args.base.rstrip("/")
failures = []


def check(name, condition, detail=""):
    print(("ok " if condition else "FAIL ") + name + ("" if condition else ": " + detail), flush=True)
    if not condition:
        failures.append(name)


options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
binary = os.environ.get("CHROMIUM")
if binary:
    options.binary_location = binary
# Debian's chromedriver, not one Selenium would fetch from the internet.
driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": args.download})
wait = WebDriverWait(driver, 20)


def rows():
    return driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr[data-href]")


def untouched(where):
    """No probe ran: the title is still Cairn's, no dialog is open, no probe element exists."""
    title = driver.title
    check(where + ": no script ran", title.endswith("· Cairn") and "pwned" not in title, "title is " + repr(title))
    try:
        driver.switch_to.alert
        check(where + ": no dialog", False, "a dialog opened")
    except NoAlertPresentException:
        pass
    injected = driver.execute_script(
        "return document.querySelectorAll('img[onerror], svg[onload], a[href^=\"javascript:\"]').length")
    check(where + ": no injected element", injected == 0, f"{injected} injected elements")


def shot(name):
    if args.screenshots:
        driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))


try:
    driver.get(base + "/")
    check("the case page has its chart", len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")) > 0)
    shot("case")

    driver.get(base + "/incidents")
    check("the list shows every incident", len(rows()) == args.incidents, f"{len(rows())} rows, {args.incidents} expected")
    shot("incidents")

    # A filter applies when its select changes (the page's script submits the form).
    Select(driver.find_element(By.NAME, "severity")).select_by_value("high")
    wait.until(lambda d: "severity=high" in d.current_url)
    check("the severity filter applies on change", len(rows()) == args.high, f"{len(rows())} rows, {args.high} expected")

    # The keyboard: j selects the first row, Enter opens it.
    driver.get(base + "/incidents")
    first = rows()[0].get_attribute("data-href")
    driver.find_element(By.TAG_NAME, "body").send_keys("j")
    selected = driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr.selected")
    check("j selects the first row", len(selected) == 1 and selected[0].get_attribute("data-href") == first)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)
    wait.until(lambda d: d.current_url.endswith(first))
    check("Enter opens the selected incident", driver.current_url.endswith(first), driver.current_url)

    marks = driver.find_elements(By.CSS_SELECTOR, "svg.timeline circle.mark")
    check("the incident's timeline is drawn", len(marks) > 0)
    shot("incident")

    # Triage: the form posts, the page comes back with the event in its history.
    note = "beacon confirmed " + PROBES[0]
    Select(driver.find_element(By.NAME, "status")).select_by_value("investigating")
    assignee = driver.find_element(By.NAME, "assignee")
    assignee.clear()
    assignee.send_keys("duty officer")
    driver.find_element(By.NAME, "note").send_keys(note)
    driver.find_element(By.CSS_SELECTOR, "form.triage button[type=submit]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "ol.history li")) > 0)
    history = driver.find_element(By.CSS_SELECTOR, "ol.history").text
    check("triage shows in the history", "investigating" in history and note in history, history)
    untouched("after triage")

    # Export: select two incidents, press the button, a ZIP arrives.
    driver.get(base + "/incidents")
    boxes = driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody input[type=checkbox]")
    for box in boxes[:2]:
        box.click()
    driver.find_element(By.CSS_SELECTOR, "button.export-button").click()
    deadline = time.time() + 60
    archives = []
    while time.time() < deadline:
        archives = [f for f in os.listdir(args.download) if f.endswith(".zip")]
        if archives:
            break
        time.sleep(0.2)
    check("Export selected downloads a ZIP", len(archives) == 1, str(os.listdir(args.download)))

    # The probes: in a file name (sources, the incident of that file), reflected in
    # queries, and in the triage note above.
    reflected = urllib.parse.quote("".join(PROBES))
    for path in ["/", "/sources", f"/incidents/{args.hostile}", f"/sightings/{args.hostile_sighting}",
                 f"/sightings/{args.hostile_packet}", f"/incidents?host={reflected}",
                 f"/explain?value={reflected}", f"/incidents?indicator={reflected}&since={reflected}", "/custody"]:
        driver.get(base + path)
        untouched(path if len(path) < 40 else path[:40] + "…")
    driver.get(base + "/sources")
    check("the hostile file name is shown as text", "<svg onload=" in driver.find_element(By.TAG_NAME, "body").text)
    shot("sources")
    driver.get(base + f"/sightings/{args.hostile_sighting}")
    check("the hostile log line is shown as text", PROBES[0] in driver.find_element(By.TAG_NAME, "body").text)
    driver.get(base + "/custody")
    shot("custody")
    # Upload: the file goes up, the table follows the server's events to "done".
    if args.upload:
        driver.get(base + "/upload")
        driver.find_element(By.ID, "upload-files").send_keys(args.upload)
        driver.find_element(By.CSS_SELECTOR, "form.upload button[type=submit]").click()
        name = os.path.basename(args.upload)

        def jobs():
            # Read in one script: the page rebuilds the table at every event, so elements
            # found one call earlier may be gone.
            return driver.execute_script(
                "return Array.from(document.querySelectorAll('#upload-jobs tr'))"
                ".map(function (row) { return [row.textContent, row.getAttribute('data-state')]; })")

        try:
            WebDriverWait(driver, 120).until(
                lambda d: any(name in text and state in ("done", "failed") for text, state in jobs()))
            done = [text for text, state in jobs() if name in text and state == "done"]
            check("an upload is ingested, its progress shown live", len(done) == 1, str(jobs()))
        except TimeoutException:
            check("an upload is ingested, its progress shown live", False, str(jobs()))
        untouched("/upload")
        shot("upload")
    violations = [entry for entry in driver.get_log("browser") if "Content Security Policy" in entry.get("message", "")]
    check("no page broke its own Content-Security-Policy", not violations, str(violations[:3]))
except TimeoutException as error:
    check("the pages answered in time", False, str(error))
finally:
    driver.quit()

sys.exit(1 if failures else 0)
