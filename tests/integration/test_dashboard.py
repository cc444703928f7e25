"""The dashboard (docs/API.md, "Dashboard") in a real browser: headless
Chromium driven by Selenium (Debian's chromium, chromium-driver and
python3-selenium). Every page from a deep link, every action by clicking
(its effect checked through the API), the live log, the cross-site
refusal with the browser's credentials, the CSP (no console error), a
375 px layout, the keyboard, and ETag polling that stops in a hidden tab.

The browser's "cached credentials" are an Authorization header Chromium
adds to every request (DevTools' Network.setExtraHTTPHeaders), whatever
the origin — as a browser that remembered a Basic login would."""
import base64
import gzip
import http.client
import json
import os
import pathlib
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import PASSWORD, USER, Host, wait_for
from test_runs import deploy, start_run, wait_run

selenium = pytest.importorskip("selenium", reason="python3-selenium is not installed "
                               "(scripts/install-deps installs it)")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = pathlib.Path(os.environ.get("WEBJOBS_SCREENSHOTS", ROOT / "build" / "screenshots"))
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("chromium and chromium-driver are not installed (scripts/install-deps "
                    "installs them)")
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": AUTH}})
    yield d
    d.quit()


@pytest.fixture
def host(home, browser):
    h = Host(home).start()
    browser.set_window_size(1280, 900)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    yield h
    browser.get("about:blank")
    assert h.stop() == 0


def url(h, frag=""):
    return f"http://127.0.0.1:{h.port}/azurejobs/{frag}"


def open_page(d, h, frag, until_css):
    """A fresh load of a deep link; waits until until_css is shown."""
    d.get("about:blank")
    d.get(url(h, frag))
    assert wait_for(lambda: d.find_elements(By.CSS_SELECTOR, until_css), timeout=10), \
        f"{frag}: {until_css} never appeared: {d.find_element(By.TAG_NAME, 'body').text[:500]}"


def fresh(fn):
    """fn() again while the page re-renders under it (a poll brought news
    between finding an element and reading it)."""
    for _ in range(50):
        try:
            return fn()
        except StaleElementReferenceException:
            time.sleep(0.05)
    return fn()


def text(d, css):
    return fresh(lambda: d.find_element(By.CSS_SELECTOR, css).text)


def console_errors(d):
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def click(d, css, label=None):
    # The page re-renders when a poll brings news: an element found just
    # before may be gone by the click; it is looked for again.
    for _ in range(20):
        try:
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if label is None or el.text == label:
                    el.click()
                    return el
            break
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError(f"nothing to click: {css} {label}")


def run_with_arguments(d, name, args):
    """Types args into the job's Arguments box and clicks its Run button,
    again from the start when a re-render replaced them meanwhile."""
    for _ in range(20):
        try:
            box = d.find_element(By.CSS_SELECTOR, f"input[aria-label='Arguments for {name}']")
            box.clear()
            box.send_keys(args)
            box.find_element(By.XPATH, "following-sibling::button").click()
            return
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError(f"could not run {name} from its row")


def api(h, path):
    return h.get(path).json()


def setup_jobs(h):
    deploy(h, "report", "echo making the report\necho '<b>not bold</b>'\nexit 1\n")
    deploy(h, "daemon", "while true; do echo alive; sleep 0.3; done\n", kind="continuous")
    rid = start_run(h, "report")
    wait_run(h, "report", rid)
    h.request("PUT", "/api/triggeredwebjobs/report/settings",
              body=b'{"schedule": "0 */5 * * * *"}')
    return rid


PAGES = [("overview", "#/", "main h1"),
         ("jobs", "#/jobs", "table.jobs"),
         ("job", "#/jobs/triggered/report", "table.runs"),
         ("run", "#/jobs/triggered/report/runs/{rid}", "dl.facts"),
         ("continuous", "#/jobs/continuous/daemon", "pre.log")]


def test_every_page_from_a_deep_link_light_and_dark(browser, host):
    d, h = browser, host
    rid = setup_jobs(h)
    d.get_log("browser")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                          {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        for name, frag, css in PAGES:
            open_page(d, h, frag.format(rid=rid), css)
            time.sleep(0.3)
            assert "[object" not in d.find_element(By.TAG_NAME, "body").text, name
            d.save_screenshot(str(SHOTS / f"{name}-{scheme}.png"))
    assert console_errors(d) == []
    # What each page shows.
    open_page(d, h, "#/jobs", "table.jobs")
    body = text(d, "main")
    assert "report" in body and "daemon" in body and "0 */5 * * * *" in body
    open_page(d, h, "#/jobs/triggered/report", "table.runs")
    assert wait_for(lambda: len(d.find_elements(By.CSS_SELECTOR, ".settings + * ol li, ol li")) == 5,
                    timeout=10)
    open_page(d, h, f"#/jobs/triggered/report/runs/{rid}", "dl.facts")
    # Job output is text: the job's HTML shows as its source.
    assert wait_for(lambda: "<b>not bold</b>" in text(d, "pre.log"), timeout=10)
    assert not d.find_elements(By.CSS_SELECTOR, "pre.log b")
    assert "Failed" in text(d, "dl.facts")
    open_page(d, h, "#/", "main h1")
    assert wait_for(lambda: "report" in text(d, "main") and "Failures" in text(d, "main"), timeout=5)
    ready = int(d.execute_script("return document.documentElement.dataset.ready"))
    print(f"dashboard: first view drawn {ready} ms after navigation")


def test_actions_by_clicking(browser, host, tmp_path):
    d, h = browser, host
    setup_jobs(h)
    open_page(d, h, "#/jobs", "table.jobs")
    # Deploy: a file chosen in the form, its type and name set.
    script = tmp_path / "hello.sh"
    script.write_text("echo hello from $WEBJOBS_COMMAND_ARGUMENTS\nsleep 30\n")
    click(d, "details.deploy summary")
    fresh(lambda: d.find_element(By.CSS_SELECTOR, "details.deploy input[type=text]").send_keys("hello"))
    fresh(lambda: d.find_element(By.CSS_SELECTOR, "details.deploy input[type=file]")
          .send_keys(str(script)))
    assert wait_for(lambda: h.get("/api/triggeredwebjobs/hello").status == 200, timeout=10)
    # Run with arguments: a space and a '+' reach the job as typed.
    assert wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "input[aria-label='Arguments for hello']"),
                    timeout=10)
    run_with_arguments(d, "hello", "a b+c")
    assert wait_for(lambda: api(h, "/api/triggeredwebjobs/hello")["latest_run"], timeout=10)
    rid = api(h, "/api/triggeredwebjobs/hello")["latest_run"]["id"]
    rec = json.loads((h.data_dir("triggered", "hello") / rid / "status").read_text())
    assert rec["Arguments"] == "a b+c"
    # Abort it from its page.
    open_page(d, h, f"#/jobs/triggered/hello/runs/{rid}", "dl.facts")
    assert wait_for(lambda: "hello from a b+c" in text(d, "pre.log"), timeout=10)
    assert wait_for(lambda: "a b+c" in text(d, "dl.facts"), timeout=5)
    click(d, "main button", "Abort this run")
    assert wait_run(h, "hello", rid)["status"] == "Aborted"
    # Settings: bad JSON is refused before anything is sent; good JSON is saved.
    open_page(d, h, "#/jobs/triggered/hello", ".settings")
    click(d, ".settings button", "Edit settings")
    ta = d.find_element(By.CSS_SELECTOR, ".settings textarea")
    ta.send_keys(Keys.CONTROL, "a")
    ta.send_keys('{"retries": 2,')
    click(d, ".settings button", "Save")
    assert "Not JSON" in text(d, ".settings .err")
    assert api(h, "/api/triggeredwebjobs/hello/settings") == {}
    ta.send_keys(Keys.CONTROL, "a")
    ta.send_keys('{"retries": 2}')
    click(d, ".settings button", "Save")
    assert wait_for(lambda: api(h, "/api/triggeredwebjobs/hello/settings") == {"retries": 2},
                    timeout=5)
    # Continuous: stop, then start.
    open_page(d, h, "#/jobs/continuous/daemon", "main .actions")
    click(d, "main .actions button", "Stop")
    assert wait_for(lambda: api(h, "/api/continuouswebjobs/daemon")["status"] == "Stopped",
                    timeout=10)
    assert wait_for(lambda: fresh(lambda: any(b.text == "Start" for b in d.find_elements(
        By.CSS_SELECTOR, "main .actions button"))), timeout=5)
    click(d, "main .actions button", "Start")
    assert wait_for(lambda: api(h, "/api/continuouswebjobs/daemon")["status"] != "Stopped",
                    timeout=10)
    # Delete, confirmed in a dialog (Cancel first: nothing happens).
    open_page(d, h, "#/jobs/triggered/hello", "main .actions")
    click(d, "main .actions button", "Delete")
    click(d, "dialog.confirm button", "Cancel")
    time.sleep(0.3)
    assert h.get("/api/triggeredwebjobs/hello").status == 200
    click(d, "main .actions button", "Delete")
    click(d, "dialog.confirm button", "Delete")
    assert wait_for(lambda: h.get("/api/triggeredwebjobs/hello").status == 404, timeout=10)
    assert wait_for(lambda: d.current_url.endswith("#/jobs"), timeout=5)
    # An error banner: a run while one is in progress is 409.
    deploy(h, "busy", "sleep 30\n")
    start_run(h, "busy")
    open_page(d, h, "#/jobs/triggered/busy", "main .actions")
    click(d, "main .actions button", "Run")
    assert wait_for(lambda: "already running" in text(d, "#banner") and
                    "(409)" in text(d, "#banner"), timeout=5)
    assert console_errors(d) == [] or all("409" in e["message"] for e in console_errors(d))


def test_live_log_and_history_filter(browser, host):
    d, h = browser, host
    deploy(h, "ticker", "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.4; done\n")
    rid = start_run(h, "ticker")
    open_page(d, h, f"#/jobs/triggered/ticker/runs/{rid}", "pre.log")
    # Lines appear while the run goes on, not only at its end.
    assert wait_for(lambda: "line 2" in text(d, "pre.log"), timeout=10)
    assert api(h, f"/api/triggeredwebjobs/ticker/history/{rid}")["status"] == "Running"
    assert "line 8" not in text(d, "pre.log")
    assert wait_for(lambda: "line 8" in text(d, "pre.log"), timeout=10)
    assert wait_for(lambda: "Success" in text(d, "dl.facts"), timeout=10)
    # The history's status filter.
    deploy(h, "mixed", "[ -e $WEBJOBS_DATA_PATH/ok ] || { touch $WEBJOBS_DATA_PATH/ok; exit 1; }\n")
    wait_run(h, "mixed", start_run(h, "mixed"))
    wait_run(h, "mixed", start_run(h, "mixed"))
    open_page(d, h, "#/jobs/triggered/mixed", "table.runs")
    assert len(d.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")) == 2
    sel = d.find_element(By.CSS_SELECTOR, "select[aria-label='Filter runs by status']")
    sel.send_keys("Failed")
    assert wait_for(lambda: len(d.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")) == 1,
                    timeout=5)
    assert "Failed" in text(d, "table.runs tbody")


class EvilSite(ThreadingHTTPServer):
    """Another origin: its page tries to start a run, deploy and delete on
    the host with the browser's credentials."""
    daemon_threads = True

    def __init__(self, target):
        page = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{target}/api/triggeredwebjobs/victim/run"></form>
<script>
fetch("{target}/api/triggeredwebjobs/victim/run", {{method: "POST", mode: "no-cors",
      credentials: "include"}});
fetch("{target}/api/triggeredwebjobs/victim", {{method: "DELETE", credentials: "include"}});
fetch("{target}/api/triggeredwebjobs/planted", {{method: "PUT", credentials: "include",
      body: "echo pwned", headers: {{"Content-Disposition": "attachment; filename=run.sh"}}}});
setTimeout(() => document.getElementById("f").submit(), 300);
</script></body></html>""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_another_origin_cannot_change_anything(browser, host):
    d, h = browser, host
    deploy(h, "victim", "echo ran\n")
    evil = EvilSite(f"http://127.0.0.1:{h.port}")
    try:
        d.get(f"http://127.0.0.1:{evil.server_address[1]}/")
        time.sleep(2)
    finally:
        evil.shutdown()
        evil.server_close()
    assert h.get("/api/triggeredwebjobs/victim/history").json()["runs"] == []
    assert h.get("/api/triggeredwebjobs/victim").status == 200
    assert h.get("/api/triggeredwebjobs/planted").status == 404
    # The host did get the two POSTs (a form's and a no-cors fetch), and
    # refused them; the browser itself never sends the PUT and the DELETE
    # (their CORS preflight is not answered with a permission).
    m = h.get("/metrics").text()
    refused = sum(int(line.rsplit(" ", 1)[1]) for line in m.splitlines()
                  if line.startswith("webjobs_http_requests_total") and 'status="403"' in line)
    assert refused >= 2, m
    # The same requests from the dashboard's own origin go through.
    r = h.request("POST", "/api/triggeredwebjobs/victim/run",
                  headers={"Origin": f"http://127.0.0.1:{h.port}", "Sec-Fetch-Site": "same-origin"})
    assert r.status == 202
    r = h.request("POST", "/api/triggeredwebjobs/victim/run",
                  headers={"Origin": "http://evil.example"})
    assert r.status == 403 and r.json() == {"Message": "Cross-site request refused."}


def test_narrow_layout_and_keyboard(browser, host):
    d, h = browser, host
    rid = setup_jobs(h)
    deploy(h, "a-job-with-quite-a-long-name-that-must-wrap-somewhere", "true\n")
    d.set_window_size(375, 800)
    for name, frag, css in PAGES:
        open_page(d, h, frag.format(rid=rid), css)
        time.sleep(0.2)
        width = d.execute_script("return document.documentElement.scrollWidth")
        inner = d.execute_script("return window.innerWidth")
        assert width <= inner, f"{name}: {width} px wide in a {inner} px window"
        d.save_screenshot(str(SHOTS / f"{name}-375.png"))
    d.set_window_size(1280, 900)
    # Keyboard only: tab to the Run button of a job and press Enter.
    deploy(h, "bykeys", "echo typed\n")
    open_page(d, h, "#/jobs/triggered/bykeys", "main .actions")
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(30):
        el = d.switch_to.active_element
        if el.tag_name == "button" and el.text == "Run":
            break
        el.send_keys(Keys.TAB)
    assert d.switch_to.active_element.text == "Run"
    d.switch_to.active_element.send_keys(Keys.ENTER)
    assert wait_for(lambda: api(h, "/api/triggeredwebjobs/bykeys")["latest_run"], timeout=10)


def test_polls_with_etags_and_stops_when_hidden(browser, host):
    d, h = browser, host
    setup_jobs(h)
    open_page(d, h, "#/jobs", "table.jobs")

    def counts():
        m = h.get("/metrics").text()
        out = {}
        for line in m.splitlines():
            if line.startswith('webjobs_http_requests_total{route="all"'):
                status = line.split('status="')[1].split('"')[0]
                out[status] = int(line.rsplit(" ", 1)[1])
        return out

    before = counts()
    time.sleep(6.5)
    after = counts()
    polls = sum(after.values()) - sum(before.values())
    assert 2 <= polls <= 4, (before, after)  # every 2 s
    assert after.get("304", 0) - before.get("304", 0) >= 2  # nothing changed: 304s
    # A hidden tab stops asking.
    d.execute_script("Object.defineProperty(document, 'visibilityState', {value: 'hidden'});"
                     "document.dispatchEvent(new Event('visibilitychange'));")
    before = counts()
    time.sleep(4.5)
    assert counts() == before


def test_files_headers_and_compression(host):
    h = host
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("GET", "/azurejobs/app.js", headers={"Authorization": AUTH,
                                                   "Accept-Encoding": "gzip"})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200
    assert r.getheader("Content-Encoding") == "gzip"
    assert r.getheader("Content-Type") == "text/javascript; charset=utf-8"
    assert r.getheader("Content-Security-Policy") == "default-src 'self'"
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    assert r.getheader("Referrer-Policy") == "same-origin"
    assert r.getheader("X-Frame-Options") == "DENY"
    assert r.getheader("Cache-Control") == "no-cache"
    assert gzip.decompress(body) == (ROOT / "web" / "app.js").read_bytes()
    tag = r.getheader("ETag")
    c.request("GET", "/azurejobs/app.js", headers={"Authorization": AUTH,
                                                   "Accept-Encoding": "gzip",
                                                   "If-None-Match": tag})
    r = c.getresponse()
    r.read()
    assert r.status == 304
    c.request("GET", "/azurejobs/app.js", headers={"Authorization": AUTH})
    r = c.getresponse()
    assert r.read() == (ROOT / "web" / "app.js").read_bytes()
    assert r.getheader("Content-Encoding") is None
    # Behind the same authentication as the API; deep links reach the app.
    c.request("GET", "/azurejobs/")
    r = c.getresponse()
    r.read()
    assert r.status == 401
    c.request("GET", "/azurejobs", headers={"Authorization": AUTH})
    r = c.getresponse()
    r.read()
    assert r.status == 301 and r.getheader("Location") == "/azurejobs/"
    # The whole app, compressed, stays small.
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in (ROOT / "web").iterdir())
    assert total < 60 * 1024, total


def test_error_banners_401_and_host_gone(browser, host):
    d, h = browser, host
    setup_jobs(h)
    open_page(d, h, "#/jobs", "table.jobs")
    bad = "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()
    d.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": bad}})
    try:
        assert wait_for(lambda: "(401)" in text(d, "#banner"), timeout=10)
    finally:
        d.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": AUTH}})
    # Back with the right credentials, the banner goes by itself.
    assert wait_for(lambda: not d.find_element(By.ID, "banner").is_displayed(), timeout=10)
    assert h.stop() == 0
    assert wait_for(lambda: "cannot be reached" in text(d, "#banner"), timeout=10)
