"""ztncui's requests, replayed against a real `ztcore controller` on 127.0.0.1.

ztncui (key-networks/ztncui, a web UI for zerotier-one's controller API) talks to the
controller's HTTP port with the token in X-ZT1-Auth. Its requests, as its src/controllers/zt.js
and networkController.js make them: GET /status (the controller's address), GET /peer and
/peer/<address> (404 means "not a peer"), GET /controller/network and each network, POST
/controller/network/<address>______ {"name":...} to create, POST /controller/network/<nwid> with
one property at a time -- form values as *strings* ({"private":"false"},
{"v4AssignMode":{"zt":"true"}}, a v6AssignMode with the unticked boxes absent), whole
ipAssignmentPools / routes arrays re-posted after a local push or filter, {"dns":{...}} --
member objects ({"authorized":"true"}, {"activeBridge":"false"}, {"name":...},
{"ipAssignments":[...]}) and DELETE of members and networks.

The controller's command line comes from ZTCORE_CONTROLLER_ARGS (shell words; "{home}" is
replaced by a fresh temporary directory, "{planet}" by the planet of a root the test starts on
127.0.0.1, so that /peer has an entry, "{pg}" by the URL of a throwaway PostgreSQL server the
test starts with tests/support/pg_server.sh and removes at the end), default:
    controller --home {home} --port 0 --bind 127.0.0.1 --http 127.0.0.1:0 --planet {planet}
so the PostgreSQL variant (ctest controller_api_ztncui_pg) only adds `--db {pg}`. The binary is ZTCORE_BIN (ctest sets
it), else build/ztcore of this checkout.
"""

import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ARGS = "controller --home {home} --port 0 --bind 127.0.0.1 --http 127.0.0.1:0 --planet {planet}"


def ztcore_bin():
    b = os.environ.get("ZTCORE_BIN") or os.path.join(HERE, "..", "..", "build", "ztcore")
    if not os.access(b, os.X_OK):
        pytest.fail("no ztcore binary at %s (build it, or set ZTCORE_BIN)" % b)
    return b


class Controller:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ztncui-")
        home = os.path.join(self.tmp.name, "home")
        self.root = None
        self.root_address = None
        words = shlex.split(os.environ.get("ZTCORE_CONTROLLER_ARGS") or DEFAULT_ARGS)
        planet = os.path.join(self.tmp.name, "planet")
        if any("{planet}" in w for w in words):
            self.start_root(planet)
        self.pg_dir = None
        pg_url = ""
        if any("{pg}" in w for w in words):
            # Not inside self.tmp (0700, root's): the server runs as user postgres.
            self.pg_dir = "/tmp/ztncui-pg-%d-%s" % (os.getpid(), os.path.basename(self.tmp.name))
            r = subprocess.run(["bash", os.path.join(HERE, "..", "support", "pg_server.sh"), "start",
                                self.pg_dir, str(os.getpid())], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                self.pg_dir = None
                pytest.fail("cannot start a PostgreSQL server: " + r.stderr)
            pg_url = r.stdout.strip()
        args = [w.replace("{home}", home).replace("{planet}", planet).replace("{pg}", pg_url) for w in words]
        self.out_path = os.path.join(self.tmp.name, "out")
        self.err_path = os.path.join(self.tmp.name, "err")
        self.proc = subprocess.Popen([ztcore_bin()] + args, stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"))
        deadline = time.time() + 20
        lines = {}
        while time.time() < deadline:
            text = open(self.out_path).read()
            for line in text.splitlines():
                k, _, v = line.partition(" ")
                lines.setdefault(k, v)
            if "api" in lines and "token" in lines:
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if "api" not in lines or "token" not in lines:
            self.stop()
            pytest.fail("controller did not start: %s %s" % (open(self.out_path).read(), open(self.err_path).read()))
        self.address = lines["controller"]
        self.base = lines["api"][: -len("/controller")]
        self.token = open(lines["token"]).read().strip()

    def start_root(self, planet):
        """A root on 127.0.0.1 (a fixed free port: its planet names it) writing `planet`."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        rhome = os.path.join(self.tmp.name, "root")
        self.root = subprocess.Popen(
            [ztcore_bin(), "root", "--home", rhome, "--port", str(port), "--bind", "127.0.0.1", "--no-api",
             "--planet-out", planet], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline and not (os.path.exists(planet) and os.path.getsize(planet) > 0):
            time.sleep(0.05)
        if not os.path.exists(planet):
            self.stop()
            pytest.fail("the root wrote no planet")
        self.root_address = open(os.path.join(rhome, "identity.public")).read()[:10]

    def stop(self):
        for p in (getattr(self, "proc", None), self.root):
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.pg_dir:
            subprocess.run(["bash", os.path.join(HERE, "..", "support", "pg_server.sh"), "stop", self.pg_dir],
                           capture_output=True, timeout=60)
        self.tmp.cleanup()

    def call(self, method, path, body=None, token=True, raw=None):
        """-> (status, parsed JSON body). `body` is sent as JSON (as ztncui's got does)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-ZT1-Auth", self.token)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            pytest.fail("%s %s: HTTP %d, not JSON: %r" % (method, path, status, text[:200]))

    def ok(self, method, path, body=None):
        status, j = self.call(method, path, body)
        assert status == 200, "%s %s %s -> %d %s" % (method, path, body, status, j)
        return j


@pytest.fixture(scope="module")
def ctl():
    c = Controller()
    yield c
    c.stop()


def network_object(ctl, nwid, obj):  # zt.network_object
    return ctl.ok("POST", "/controller/network/" + nwid, obj)


def member_object(ctl, nwid, mid, obj):  # zt.member_object
    return ctl.ok("POST", "/controller/network/%s/member/%s" % (nwid, mid), obj)


def test_status_and_peers(ctl):
    st = ctl.ok("GET", "/status")
    assert st["address"] == ctl.address and re.fullmatch(r"[0-9a-f]{10}", st["address"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", st["version"])
    assert st["publicIdentity"].startswith(ctl.address + ":0:")
    assert isinstance(st["online"], bool)
    peers = ctl.ok("GET", "/peer")
    assert isinstance(peers, list)
    if ctl.root_address:  # the root of our planet, once the controller has reached it
        # The root is a peer as soon as the planet is read; its path once HELLO was answered.
        def root_with_path(peers):
            return [p for p in peers if p["address"] == ctl.root_address and
                    any(x["address"].startswith("127.0.0.1/") for x in p["paths"])]
        deadline = time.time() + 15
        while not root_with_path(peers) and time.time() < deadline:
            time.sleep(0.2)
            peers = ctl.ok("GET", "/peer")
        root = [p for p in peers if p["address"] == ctl.root_address]
        assert root and root[0]["role"] == "PLANET", peers
        assert any(x["address"].startswith("127.0.0.1/") for x in root[0]["paths"]), root
    for p in peers:  # the shape ztncui's peer column reads
        assert re.fullmatch(r"[0-9a-f]{10}", p["address"])
        assert isinstance(p["latency"], int) and isinstance(p["paths"], list) and "version" in p
        assert ctl.ok("GET", "/peer/" + p["address"])["address"] == p["address"]
    status, body = ctl.call("GET", "/peer/0123456789")  # ztncui: 404 -> "not a peer"
    assert status == 404 and isinstance(body["error"], str)
    assert ctl.call("GET", "/status", token=False)[0] == 401
    assert ctl.call("GET", "/peer", token=False)[0] == 401


def test_network_lifecycle(ctl):
    # network_create: the address from /status, then POST <address>______ {"name": ...}
    addr = ctl.ok("GET", "/status")["address"]
    net = ctl.ok("POST", "/controller/network/%s______" % addr, {"name": "ztncui-net"})
    nwid = net["id"]
    assert nwid.startswith(addr) and net["nwid"] == nwid and net["name"] == "ztncui-net"

    # network_list: the ids, then each network's name and nwid
    assert nwid in ctl.ok("GET", "/controller/network")
    detail = ctl.ok("GET", "/controller/network/" + nwid)
    assert (detail["name"], detail["nwid"]) == ("ztncui-net", nwid)

    # name, private: form strings
    assert network_object(ctl, nwid, {"name": "renamed"})["name"] == "renamed"
    assert network_object(ctl, nwid, {"private": "false"})["private"] is False
    assert network_object(ctl, nwid, {"private": "true"})["private"] is True

    # v4AssignMode: {zt: "true"}; the unticked box is an absent key (JSON drops undefined)
    assert network_object(ctl, nwid, {"v4AssignMode": {"zt": "true"}})["v4AssignMode"] == {"zt": True}
    assert network_object(ctl, nwid, {"v4AssignMode": {}})["v4AssignMode"] == {"zt": False}

    # v6AssignMode: 6plane and zt ticked, rfc4193 not
    v6 = network_object(ctl, nwid, {"v6AssignMode": {"6plane": "true", "zt": "true"}})["v6AssignMode"]
    assert (v6["6plane"], v6["zt"], v6.get("rfc4193", False)) == (True, True, False)
    v6 = network_object(ctl, nwid, {"v6AssignMode": {"rfc4193": "true"}})["v6AssignMode"]
    assert (v6.get("6plane", False), v6.get("zt", False), v6["rfc4193"]) == (False, False, True)

    # easy setup: pools, routes and v4AssignMode in one POST (real booleans here)
    easy = network_object(ctl, nwid, {
        "ipAssignmentPools": [{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}],
        "routes": [{"target": "10.147.17.0/24", "via": None}],
        "v4AssignMode": {"zt": True}})
    assert easy["ipAssignmentPools"] == [{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}]
    assert easy["routes"] == [{"target": "10.147.17.0/24", "via": None}]
    assert easy["v4AssignMode"] == {"zt": True}

    # ipAssignmentPools add / delete: read, push or filter locally, post the whole array
    pools = ctl.ok("GET", "/controller/network/" + nwid)["ipAssignmentPools"]
    pools.append({"ipRangeStart": "fd00:abcd::1", "ipRangeEnd": "fd00:abcd::ff"})
    got = network_object(ctl, nwid, {"ipAssignmentPools": pools})["ipAssignmentPools"]
    assert {"ipRangeStart": "fd00:abcd::1", "ipRangeEnd": "fd00:abcd::ff"} in got and len(got) == 2
    pools = [p for p in got if p["ipRangeStart"] != "fd00:abcd::1"]
    assert network_object(ctl, nwid, {"ipAssignmentPools": pools})["ipAssignmentPools"] == pools

    # routes add (with a gateway; an IPv6 target in canonical form) / delete
    routes = ctl.ok("GET", "/controller/network/" + nwid)["routes"]
    routes.append({"target": "192.168.50.0/24", "via": "10.147.17.1"})
    routes.append({"target": "fd00:0:0:0:0:0:0:0/8", "via": None})
    got = network_object(ctl, nwid, {"routes": routes})["routes"]
    assert {"target": "192.168.50.0/24", "via": "10.147.17.1"} in got
    assert {"target": "fd00::/8", "via": None} in got
    routes = [r for r in got if r["target"] != "192.168.50.0/24"]
    assert network_object(ctl, nwid, {"routes": routes})["routes"] == routes

    # dns: domain and the servers ztncui kept (it filters non-IPs itself)
    dns = network_object(ctl, nwid, {"dns": {"domain": "zt.example", "servers": ["10.147.17.53", "fd00::53"]}})
    assert dns["dns"] == {"domain": "zt.example", "servers": ["10.147.17.53", "fd00::53"]}

    # what the reference drops or nulls instead of refusing
    bad = network_object(ctl, nwid, {"routes": [{"target": "10.1.0.0/16"}, {"target": "nonsense"}],
                                     "remoteTraceTarget": "xyz",
                                     "rules": [{"type": "ACTION_DROP", "not": "false"}, {"type": "BOGUS"},
                                               {"type": "ACTION_ACCEPT"}]})
    assert bad["routes"] == [{"target": "10.1.0.0/16", "via": None}]
    assert bad["remoteTraceTarget"] is None
    assert [r["type"] for r in bad["rules"]] == ["ACTION_DROP", "ACTION_ACCEPT"]

    # still only a body that is not a JSON object is refused
    status, body = ctl.call("POST", "/controller/network/" + nwid, raw=b"[1,2]")
    assert status == 400 and isinstance(body["error"], str)
    status, body = ctl.call("POST", "/controller/network/" + nwid, raw=b'{"name":')
    assert status == 400
    status, body = ctl.call("POST", "/controller/network/" + nwid,
                            raw=json.dumps({"name": "x" * (1 << 20)}).encode())
    assert status == 413 and isinstance(body["error"], str)
    assert ctl.ok("GET", "/controller/network/" + nwid)["name"] == "renamed"

    # network_delete: the deleted object back, then gone
    gone = ctl.ok("DELETE", "/controller/network/" + nwid)
    assert gone["id"] == nwid
    assert nwid not in ctl.ok("GET", "/controller/network")
    assert ctl.call("GET", "/controller/network/" + nwid)[0] == 404


def test_members(ctl):
    addr = ctl.ok("GET", "/status")["address"]
    nwid = ctl.ok("POST", "/controller/network/%s______" % addr, {"name": "members"})["id"]
    network_object(ctl, nwid, {"routes": [{"target": "10.147.18.0/24", "via": None}],
                               "ipAssignmentPools": [{"ipRangeStart": "10.147.18.10",
                                                      "ipRangeEnd": "10.147.18.20"}]})
    mid = "8fec3e8ae4"

    # the members page's authorize click: {"authorized": "true"}
    m = member_object(ctl, nwid, mid, {"authorized": "true"})
    assert m["authorized"] is True and m["id"] == mid and m["address"] == mid and m["nwid"] == nwid
    assert m["lastAuthorizedTime"] > 0 and m["lastAuthorizedCredentialType"] == "api"
    listed = ctl.ok("GET", "/controller/network/%s/member" % nwid)
    assert mid in listed and isinstance(listed[mid], int)
    assert ctl.ok("GET", "/controller/network/%s/member/%s" % (nwid, mid))["authorized"] is True
    # the peer column: not a peer -> 404 (ztncui shows nothing)
    assert ctl.call("GET", "/peer/" + mid)[0] == 404

    # activeBridge as a string, both ways
    assert member_object(ctl, nwid, mid, {"activeBridge": "true"})["activeBridge"] is True
    assert member_object(ctl, nwid, mid, {"activeBridge": "false"})["activeBridge"] is False

    # rename (older ztncui posts the name to the controller)
    assert member_object(ctl, nwid, mid, {"name": "laptop"})["name"] == "laptop"
    assert ctl.ok("GET", "/controller/network/%s/member/%s" % (nwid, mid))["name"] == "laptop"

    # ipAssignments add / delete: read, push or splice, post the whole array
    ips = ctl.ok("GET", "/controller/network/%s/member/%s" % (nwid, mid))["ipAssignments"]
    ips.append("10.147.18.15")
    got = member_object(ctl, nwid, mid, {"ipAssignments": ips})["ipAssignments"]
    assert "10.147.18.15" in got
    got.remove("10.147.18.15")
    assert "10.147.18.15" not in member_object(ctl, nwid, mid, {"ipAssignments": got})["ipAssignments"]

    # deauthorize
    m = member_object(ctl, nwid, mid, {"authorized": "false"})
    assert m["authorized"] is False and m["lastDeauthorizedTime"] > 0

    # member_delete: the deleted member back, then gone
    gone = ctl.ok("DELETE", "/controller/network/%s/member/%s" % (nwid, mid))
    assert gone["id"] == mid
    assert mid not in ctl.ok("GET", "/controller/network/%s/member" % nwid)
    assert ctl.call("GET", "/controller/network/%s/member/%s" % (nwid, mid))[0] == 404
    ctl.ok("DELETE", "/controller/network/" + nwid)
