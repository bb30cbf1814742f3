"""The controller's web UI in a real browser (headless Chromium driven by Selenium).

A root, `ztcore controller` and one member node run on 127.0.0.1. The test logs in with the
controller's token, creates a network and configures it (IPv4 pool, route, zt assign mode)
from the page, lets the node join, authorizes it with a click and waits for its managed IP to
appear in the members table; it checks that a bad rule shows the API's error, and that the
members table follows changes made elsewhere (through the API) without a reload. A screenshot
goes to $ZTCORE_SCREENSHOT (default ./ui.png).

Environment: ZTCORE_BIN (the ztcore binary; required). Every wait is bounded; every process is
stopped at the end.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ZT = os.environ.get("ZTCORE_BIN", "")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 45  # seconds, for anything the network has to do


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (a root's API listens on its UDP port)."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        p = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def wait_for(what, fn, timeout=WAIT, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


class Procs:
    """Background processes with their output in files; all stopped by stop_all()."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, args):
        out = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def logs(self):
        return "\n".join("---- %s ----\n%s" % (n, self.log(n)[-3000:]) for n, _ in self.procs)

    def stop_all(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)


def api(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("X-ZT1-Auth", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture
def lab():
    assert ZT and os.access(ZT, os.X_OK), "set ZTCORE_BIN to the ztcore binary"
    tmp = tempfile.mkdtemp(prefix="ztcore-browser-")
    procs = Procs(tmp)
    try:
        rp = free_udp_tcp_port()
        planet = os.path.join(tmp, "planet")
        procs.start("root", [ZT, "root", "--home", os.path.join(tmp, "root"), "--port", str(rp),
                             "--bind", "127.0.0.1", "--planet-out", planet, "--api-port", "0"])
        wait_for("the root's planet", lambda: os.path.exists(planet) and os.path.getsize(planet) > 0)
        chome = os.path.join(tmp, "ctl")
        procs.start("controller", [ZT, "controller", "--home", chome, "--port", "0", "--bind", "127.0.0.1",
                                   "--planet", planet, "--http", "127.0.0.1:0", "--allow-loopback"])
        m = wait_for("the controller's API line",
                     lambda: re.search(r"^api (http://127\.0\.0\.1:\d+)/controller$", procs.log("controller"), re.M))
        base = m.group(1)
        with open(os.path.join(chome, "authtoken.secret")) as f:
            token = f.read().strip()
        yield {"tmp": tmp, "procs": procs, "planet": planet, "base": base, "token": token}
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def browser(lab):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1100", "--user-data-dir=" + os.path.join(lab["tmp"], "chromium"),
              # Loopback only: no background requests to anything else, and no name resolves.
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-default-apps", "--disable-extensions", "--no-pings",
              "--disable-domain-reliability", "--disable-client-side-phishing-detection",
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]:
        opts.add_argument(a)
    service = Service(CHROMEDRIVER, log_path=os.path.join(lab["tmp"], "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        yield driver
    finally:
        try:
            shot = os.environ.get("ZTCORE_SCREENSHOT", os.path.abspath("ui.png"))
            os.makedirs(os.path.dirname(shot), exist_ok=True)
            # The whole page: the window as tall as the document.
            h = driver.execute_script("return document.documentElement.scrollHeight") or 1100
            driver.set_window_size(1400, min(int(h) + 200, 4000))
            driver.save_screenshot(shot)
        finally:
            driver.quit()


def test_web_ui(lab, browser):
    d, base, token, procs = browser, lab["base"], lab["token"], lab["procs"]
    # Rows the page re-renders while we look at them are retried, not failures.
    wait = WebDriverWait(d, WAIT, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    find = lambda css: d.find_element(By.CSS_SELECTOR, css)
    present = lambda css: d.find_elements(By.CSS_SELECTOR, css)

    # Log in: the page is public, a wrong token is refused, the right one lists networks.
    d.get(base + "/")
    assert "ztcore controller" in d.title
    wait.until(lambda _: present("#token"))
    find("#token").send_keys("wrong-token")
    find("#login-btn").click()
    wait.until(lambda _: "401" in find("#login-error").text)
    find("#token").send_keys(token)
    find("#login-btn").click()
    wait.until(lambda _: present("#create-form"))
    assert d.execute_script("return sessionStorage.getItem('ztcoreToken')") == token

    # Create a network from the page; it opens the network's page.
    find("#new-name").send_keys("browser-net")
    find("#create-btn").click()
    wait.until(lambda _: re.match(r".*#/network/[0-9a-f]{16}$", d.current_url))
    nwid = d.current_url.rsplit("/", 1)[1]
    wait.until(lambda _: find("#nw-name").get_attribute("value") == "browser-net")
    st, net = api(base, token, "GET", "/controller/network/" + nwid)
    assert st == 200 and net["name"] == "browser-net"

    # Configure IPv4: a pool, its route, and the zt assign mode.
    find("#add-pool").click()
    find("#pools tbody tr:last-child .pool-start").send_keys("10.147.17.10")
    find("#pools tbody tr:last-child .pool-end").send_keys("10.147.17.20")
    find("#add-route").click()
    find("#routes tbody tr:last-child .route-target").send_keys("10.147.17.0/24")
    if not find("#v4-zt").is_selected():
        find("#v4-zt").click()
    find("#dns-domain").send_keys("zt.test")
    find("#dns-servers").send_keys("10.147.17.1")
    find("#save-btn").click()
    wait.until(lambda _: "saved" in find("#save-msg").text)
    st, net = api(base, token, "GET", "/controller/network/" + nwid)
    assert net["ipAssignmentPools"] == [{"ipRangeStart": "10.147.17.10", "ipRangeEnd": "10.147.17.20"}]
    assert [r["target"] for r in net["routes"]] == ["10.147.17.0/24"]
    assert net["v4AssignMode"]["zt"] is True
    assert net["dns"] == {"domain": "zt.test", "servers": ["10.147.17.1"]}

    # A rule the controller cannot read is dropped (zerotier-one's leniency); the page says so
    # and shows the rules in force, the other fields are saved.
    rules = find("#rules")
    rules.clear()
    rules.send_keys('[{"type": "NO_SUCH_RULE"}, {"type": "ACTION_ACCEPT"}]')
    find("#nw-name").clear()
    find("#nw-name").send_keys("renamed")
    find("#save-btn").click()
    wait.until(lambda _: "dropped 1 of 2 rules" in find("#nw-error").text)
    st, net2 = api(base, token, "GET", "/controller/network/" + nwid)
    assert net2["name"] == "renamed" and net2["revision"] > net["revision"]
    assert [r["type"] for r in net2["rules"]] == ["ACTION_ACCEPT"]
    assert "NO_SUCH_RULE" not in find("#rules").get_attribute("value")
    # Rules in the rules language: compiled by the controller, the text kept; a compile error
    # is shown with its line and column and changes nothing.
    rules.clear()
    rules.send_keys("drop not ethertype ipv4 and not ethertype arp;\naccept;\n")
    find("#save-btn").click()
    wait.until(lambda _: "saved" in find("#save-msg").text and not find("#nw-error").text)
    st, net3 = api(base, token, "GET", "/controller/network/" + nwid)
    assert [r["type"] for r in net3["rules"]] == ["MATCH_ETHERTYPE", "MATCH_ETHERTYPE", "ACTION_DROP", "ACTION_ACCEPT"]
    assert "ethertype arp" in net3["rulesSource"]
    rules.clear()
    rules.send_keys("drop ethertype nosuch;\n")
    find("#save-btn").click()
    wait.until(lambda _: "1:16" in find("#nw-error").text)
    st, net4 = api(base, token, "GET", "/controller/network/" + nwid)
    assert net4["revision"] == net3["revision"]
    rules.clear()
    rules.send_keys('[{"type": "ACTION_ACCEPT"}]')
    find("#nw-name").clear()
    find("#nw-name").send_keys("browser-net")
    find("#save-btn").click()
    wait.until(lambda _: "saved" in find("#save-msg").text and not find("#nw-error").text)

    # A member node joins; it shows up unauthorized (live, no reload).
    nhome = os.path.join(lab["tmp"], "node")
    procs.start("node", [ZT, "node", "--home", nhome, "--port", "0", "--bind", "127.0.0.1",
                         "--planet", lab["planet"], "--api-port", "0", "--join", nwid])
    ident = wait_for("the node's identity", lambda: os.path.exists(os.path.join(nhome, "identity.public"))
                     and open(os.path.join(nhome, "identity.public")).read())
    addr = ident[:10]
    row = 'tr[data-member="%s"]' % addr
    try:
        wait.until(lambda _: present(row))
    except Exception:
        raise AssertionError("member %s never appeared in the table\n%s" % (addr, procs.logs()))
    assert "Authorize" == find(row + " button.auth").text
    assert find(row + " input.ips").get_attribute("value") == ""

    # Authorize it with a click; its IP from the pool appears.
    find(row + " button.auth").click()
    try:
        wait.until(lambda _: re.fullmatch(r"10\.147\.17\.(1\d|20)", find(row + " input.ips").get_attribute("value")))
    except Exception:
        raise AssertionError("no IP appeared for %s (cell: %r)\n%s" % (
            addr, find(row + " input.ips").get_attribute("value"), procs.logs()))
    assert "deauthorize" in find(row + " button.auth").text
    ip = find(row + " input.ips").get_attribute("value")
    st, mem = api(base, token, "GET", "/controller/network/%s/member/%s" % (nwid, addr))
    assert mem["authorized"] is True and mem["ipAssignments"] == [ip]
    wait.until(lambda _: "ago" in find(row + " td.seen").text)

    # Deauthorize and authorize again by clicking; the record follows, the IP stays.
    find(row + " button.auth").click()
    wait.until(lambda _: find(row + " button.auth").text == "Authorize")
    assert api(base, token, "GET", "/controller/network/%s/member/%s" % (nwid, addr))[1]["authorized"] is False
    find(row + " button.auth").click()
    wait.until(lambda _: "deauthorize" in find(row + " button.auth").text)
    st, mem = api(base, token, "GET", "/controller/network/%s/member/%s" % (nwid, addr))
    assert mem["authorized"] is True and mem["ipAssignments"] == [ip]

    # Changes made elsewhere show up without a reload (the table polls).
    st, _ = api(base, token, "POST", "/controller/network/%s/member/%s" % (nwid, addr),
                {"name": "laptop", "tags": [[1, 7]], "capabilities": [3]})
    assert st == 200
    wait.until(lambda _: find(row + " input.name").get_attribute("value") == "laptop")
    wait.until(lambda _: find(row + " input.tags").get_attribute("value") == "1=7")
    assert find(row + " input.caps").get_attribute("value") == "3"

    # Editing the name in the table writes it through the API.
    name = find(row + " input.name")
    name.clear()
    name.send_keys("laptop-2\n")
    wait_for("the renamed member", lambda: api(base, token, "GET", "/controller/network/%s/member/%s"
                                                  % (nwid, addr))[1].get("name") == "laptop-2", timeout=15)

    # The networks list shows the network with its member count.
    d.get(base + "/#/")
    wait.until(lambda _: present('tr[data-network="%s"]' % nwid))
    wait.until(lambda _: find('tr[data-network="%s"]' % nwid).text.endswith("1"))
    d.get(base + "/#/network/" + nwid)
    wait.until(lambda _: find(row + " input.ips").get_attribute("value") == ip)
