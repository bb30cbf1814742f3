"""`python3 -m ztcore.scapy`, run non-interactively: --run CODE, and stdin-driven with --planet."""
import os
import re
import subprocess

from conftest import LAB_FUNCTIONS, REPO, require

PY = "/usr/bin/python3"


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "python") + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def test_repl_starts_prints_the_node_table_and_runs_scapy_code():
    require(*LAB_FUNCTIONS)
    code = """
assert n1.online and n2.online and lab.nwid == nwid
a2 = [ip for ip in n2.list_networks()[0].ips if ':' in ip][0].split('/')[0]
p = IPv6(dst=a2)/ICMPv6EchoRequest(id=1, seq=2, data=b'via repl')
got = lambda: any(b'via repl' in f.data for f in n2.vframes)
for i in range(15):  # a lost datagram is sent again
    n1.send_scapy(p, to=n2)
    if n2.wait_for(got, 1):
        break
print('RESULT', got(), n2.packets()[-1].summary())
"""
    r = subprocess.run([PY, "-m", "ztcore.scapy", "-n", "2", "--quiet", "--run", code, "--run", "n1.ztid"],
                       env=env(), cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"root\s+[0-9a-f]{10} at 127\.0\.0\.1/\d+", out), out
    m = re.search(r"private network ([0-9a-f]{16})", out)
    assert m, out
    rows = re.findall(r"^\s+(n\d)\s+([0-9a-f]{10})\s+((?:[0-9a-f]{2}:){5}[0-9a-f]{2})\s+(.*)$", out, re.M)
    assert [row[0] for row in rows] == ["n1", "n2"], out
    assert all("10.147.20." in row[3] and "fd" in row[3] for row in rows), out
    assert re.search(r"RESULT True Ether / IPv6 / ICMPv6 Echo Request", out), out
    assert "Address('%s')" % rows[0][1] in out  # the value of the expression `n1.ztid`


def test_repl_on_an_external_planet_joins_the_given_network(lab, tmp_path):
    """The console's nodes use the session lab's planet and join its network; the test process
    (the network's admin) authorizes them, then the console's commands run from stdin."""
    planet = tmp_path / "planet"
    planet.write_bytes(lab.planet)
    p = subprocess.Popen([PY, "-m", "ztcore.scapy", "-n", "1", "--planet", str(planet), "--nwids", str(lab.nwid)],
                         env=env(), cwd=str(REPO), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        head = []
        for line in p.stdout:
            head.append(line)
            if re.match(r"^\s+n1\s+[0-9a-f]{10}\s", line):
                break
        text = "".join(head)
        m = re.match(r"^\s+n1\s+([0-9a-f]{10})\s+([0-9a-f]{16})\s+(\S+)\s+(\S+)", head[-1])
        assert m, text
        assert m.group(2) == str(lab.nwid) and m.group(4) == "ACCESS_DENIED", text  # private: not yet authorized
        lab.controller.authorize(lab.nwid, m.group(1))
        n1 = lab.nodes[0]
        cmds = ("import time\n"
                "ok = n1.wait_for(lambda: n1.network(nwid).status == 'OK', 20)\n"
                "print('STATUS', n1.network(nwid).status)\n"
                "for i in range(10): n1.send_eth(nwid, None, '%s', 0x88b5, 'hi from the console'); time.sleep(0.1)\n"
                "\n" % n1.network_mac(lab.nwid))
        out, _ = p.communicate(cmds, timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, text + out
    assert "STATUS OK" in out, text + out
    assert n1.wait_for(lambda: any(f.data == b"hi from the console" for f in n1.vframes), 10)
