"""The Python lab shows the TCP service (what `ztcore lab --tcp` does), and the README's socket
example runs as written."""
import io
import re
import subprocess

from conftest import REPO, require_sockets
from test_repl import PY, env
import ztcore


def test_lab_tcp_demo_every_node_gets_its_answer(stack_lab):
    out = io.StringIO()
    results = stack_lab.tcp_demo(out=out)
    n1 = stack_lab.n1
    assert [r.client for r in results] == ["n2", "n3"]
    for r, node in zip(results, stack_lab.nodes[1:]):
        assert r.ok, r.error
        assert r.answer == "hello %s from %s" % (node.ztid, n1.ztid)
        assert r.ip == node.ip() and r.connect_ms > 0 and r.rtt_ms > 0
    text = out.getvalue()
    assert "[lab] tcp: n1 serves %s:%d; 2 nodes connect" % (n1.ip(), ztcore.lab.TCP_PORT) in text
    assert len(re.findall(r'^  n[23] +connect +[\d.]+ ms  round trip +[\d.]+ ms  "hello [0-9a-f]{10} from ', text,
                          re.M)) == 2, text
    assert "[lab] tcp OK: 2/2 nodes got their answer in" in text
    # The service can run again at once (TIME_WAIT stays on the clients' side).
    assert all(r.ok for r in stack_lab.tcp_demo(out=False))


def test_repl_tcp_flag_runs_the_tcp_service():
    require_sockets()
    r = subprocess.run([PY, "-m", "ztcore.scapy", "-n", "3", "--quiet", "--tcp", "--run",
                        "print('STACK', all(n.stack for n in lab.nodes))"],
                       env=env(), cwd=str(REPO), capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[lab] tcp OK: 2/2 nodes got their answer" in r.stdout, r.stdout
    assert len(re.findall(r'^  n[23] .* "hello [0-9a-f]{10} from [0-9a-f]{10}"$', r.stdout, re.M)) == 2, r.stdout
    assert "STACK True" in r.stdout


def readme_socket_example() -> str:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    found = [b for b in blocks if "stack=True" in b]
    assert len(found) == 1, "README.md should have one Python example with stack=True"
    return found[0]


def test_readme_socket_example_runs():
    require_sockets()
    code = readme_socket_example()
    r = subprocess.run([PY, "-c", code], env=env(), cwd=str(REPO), capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(re.match(r"^b'hello from [0-9a-f]{10}'$", x) for x in lines), r.stdout
    assert any(re.match(r"^b'echo: over asyncio'$", x) for x in lines), r.stdout
