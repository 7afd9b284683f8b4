#!/usr/bin/env python3
"""`hogmail preview` in a real browser: headless Chromium driven by Selenium.

Opens the preview of a copy of the sample project, finds the subject and the unsubscribe link
in the email's frame, the text part and the lint list; edits the draft on disk and waits for
the page to show the new text without reloading it; breaks the draft and waits for the error;
fixes it again; clicks a lint finding and a test send. Saves screenshots at desktop and phone
width into screenshots/ (named in the README).

Usage: preview_test.py HOGMAIL_BINARY
"""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCREENSHOTS = os.path.join(ROOT, "screenshots")
DRAFT = "001-hello-hogmail.md"
failures = []


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what)
    if not condition:
        failures.append(what)


def wait_for(predicate, seconds, step=0.05):
    """Polls predicate until it is true or the time is up; returns how long it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if predicate():
                return time.monotonic() - start
        except Exception:
            pass
        time.sleep(step)
    return None


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(argument)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def frame_text(driver, name):
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe[data-frame='%s']" % name))
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.switch_to.default_content()


def main():
    hogmail = os.path.abspath(sys.argv[1])
    project = tempfile.mkdtemp(prefix="hogmail-preview-")
    for name in ("hogmail.yml", "templates", "issues"):
        source = os.path.join(ROOT, name)
        (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, os.path.join(project, name))
    draft_path = os.path.join(project, "issues", DRAFT)
    original = open(draft_path, encoding="utf-8").read()
    env = dict(os.environ, HOGMAIL_SECRET="p" * 40, NO_COLOR="1")
    server = subprocess.Popen([hogmail, "preview", "1", "--project", project, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env, text=True)
    driver = None
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            if line.startswith("Previewing "):
                url = line.split(" at ", 1)[1].split(" ", 1)[0]
        if url is None:
            print("hogmail preview did not start")
            return 1
        print("Preview at", url)
        origin = url.split("/drafts/")[0]

        # The preview shows the bytes `hogmail build` writes.
        out = os.path.join(project, "built")
        subprocess.run([hogmail, "build", "--project", project, "--out", out], check=True, env=env, stdout=subprocess.DEVNULL)
        served = urllib.request.urlopen(url + "/email.html").read()
        check(served == open(os.path.join(out, "1", "email.html"), "rb").read(), "the preview's email.html is byte-identical to out/1/email.html")

        driver = browser()
        driver.get(url)
        subject = driver.find_element(By.ID, "subject").text
        check(subject.startswith("HogMail #1"), "the subject is shown: %r" % subject)
        driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe[data-frame='desktop']"))
        links = [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
        driver.switch_to.default_content()
        check(any("/unsubscribe?token=" in link for link in links), "the email in the frame has an unsubscribe link")
        for name, width in (("desktop", 680), ("phone", 375), ("dark", 375)):
            frame = driver.find_element(By.CSS_SELECTOR, "iframe[data-frame='%s']" % name)
            check(abs(frame.size["width"] - width) <= 2, "the %s view is %d px wide (is %d)" % (name, width, frame.size["width"]))
            check(frame.get_attribute("sandbox") is not None, "the %s view is sandboxed" % name)
        scheme = driver.execute_script(
            "return document.querySelector(\"iframe[data-frame='dark']\").contentWindow.matchMedia('(prefers-color-scheme: dark)').matches")
        check(scheme is True, "the dark view's email sees prefers-color-scheme: dark")
        text_part = driver.find_element(By.ID, "text-part").text
        check("/unsubscribe?token=" in text_part and "Hello!" in text_part, "the plain-text part is shown with its unsubscribe link")
        check(driver.find_element(By.ID, "lint-summary").text != "", "the lint summary is shown")
        check("List-Unsubscribe-Post" in driver.find_element(By.CSS_SELECTOR, "table.headers").text, "the headers are shown")
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
        check(all(r.startswith(origin) for r in resources), "the page requests nothing from elsewhere: %s" % [r for r in resources if not r.startswith(origin)])
        os.makedirs(SCREENSHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SCREENSHOTS, "preview-desktop.png"))

        # Live reload: the page changes without a reload by the test (a marker in the window survives).
        driver.execute_script("window.scrollTo(0, 300); window.hogmailMarker = 'still here';")
        edited = original.replace("Hello! 👋 This is the first issue", "Hello! 👋 Edited while the preview watched: this is the first issue")
        with open(draft_path, "w", encoding="utf-8") as f:
            f.write(edited)
        took = wait_for(lambda: "Edited while the preview watched" in frame_text(driver, "desktop"), 2.0)
        check(took is not None, "the edit shows in the email within 2 s (%.2f s)" % (took or -1))
        check(driver.execute_script("return window.hogmailMarker") == "still here", "the page was not reloaded")
        check(abs(driver.execute_script("return window.scrollY") - 300) <= 2, "the scroll position was kept")

        # A draft that no longer parses: the error, with file and line, instead of a blank page.
        with open(draft_path, "w", encoding="utf-8") as f:
            f.write(edited.replace('title: "HogMail #1', 'title: ["HogMail #1', 1))
        took = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "[role=alert]").is_displayed(), 2.0)
        check(took is not None, "a broken draft shows an error within 2 s (%.2f s)" % (took or -1))
        alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]").text if took is not None else ""
        check(re.search(re.escape(DRAFT) + r":\d+", alert) is not None and "YAML" in alert, "the error names the file, the line and the problem: %r" % alert[:200])
        driver.save_screenshot(os.path.join(SCREENSHOTS, "preview-error.png"))

        # Fixed again, with a dark pattern for the linter: the preview returns with the finding.
        with open(draft_path, "w", encoding="utf-8") as f:
            f.write(edited.replace("## News", "Hurry, act now: only 3 seats left!\n\n## News", 1))
        took = wait_for(lambda: driver.find_element(By.ID, "subject").text.startswith("HogMail #1"), 2.0)
        check(took is not None, "fixing the draft brings the preview back within 2 s (%.2f s)" % (took or -1))
        findings = driver.find_elements(By.CSS_SELECTOR, "#lint button.finding[data-line]")
        check(len(findings) > 0, "the lint list shows the new findings with their lines")
        if findings:
            line = findings[0].get_attribute("data-line")
            driver.execute_script("arguments[0].click()", findings[0])
            check(driver.find_element(By.ID, "L" + line).get_attribute("class") == "highlight", "clicking a finding highlights line %s of the draft" % line)

        # Test send: refused while the linter finds errors, sent once fixed, a repeat needs a second word.
        with open(draft_path, "w", encoding="utf-8") as f:
            f.write(edited)
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#lint button.finding")) == 0, 2.0)
        driver.execute_script("arguments[0].click()", driver.find_element(By.ID, "test-send"))
        took = wait_for(lambda: "Sent a test to editor@example.com" in driver.find_element(By.ID, "test-send-result").text, 10.0)
        check(took is not None, "the test-send button sends to the test address: %r" % driver.find_element(By.ID, "test-send-result").text)
        outbox = os.path.join(project, "outbox")
        sent = [email.message_from_binary_file(open(os.path.join(outbox, n), "rb"), policy=email.policy.default)
                for n in os.listdir(outbox)] if os.path.isdir(outbox) else []
        check(len(sent) == 1 and sent[0]["Subject"].startswith("[Test] HogMail #1"), "one test message is in the outbox: %s" % [m["Subject"] for m in sent])
        wait_for(lambda: driver.find_element(By.ID, "test-send").is_enabled(), 5.0)
        driver.execute_script("arguments[0].click()", driver.find_element(By.ID, "test-send"))
        took = wait_for(lambda: "Send it again?" in driver.find_element(By.ID, "test-send-result").text, 5.0)
        check(took is not None, "a second click asks before sending the same version again")
        check(len(os.listdir(outbox)) == 1, "and sends nothing until asked")

        # Phone width: the page itself fits.
        driver.set_window_size(390, 844)
        time.sleep(0.3)
        driver.execute_script("window.scrollTo(0, 0)")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 0, "the page fits a phone's width (overflow %d px)" % overflow)
        driver.save_screenshot(os.path.join(SCREENSHOTS, "preview-phone.png"))
        print("Screenshots in", os.path.relpath(SCREENSHOTS, ROOT) + "/")
    finally:
        if driver is not None:
            driver.quit()
        server.kill()
        server.wait()
        shutil.rmtree(project, ignore_errors=True)
    print("preview in the browser: %d failure%s" % (len(failures), "" if len(failures) == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
