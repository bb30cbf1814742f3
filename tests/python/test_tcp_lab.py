"""The Python lab shows the TCP service (what `ztcore lab --tcp` does), and the README's socket
example runs as written."""
import io
import re
import subprocess

from conftest import REPO, require_sockets
from test_repl import PY, env


def test_lab_tcp_demo_every_node_gets_its_answer(stack_lab):
    out = io.StringIO()
    results = stack_lab.tcp_demo(port=7, out=out)
    n1 = stack_lab.n1
    assert [r.client for r in results] == ["n2", "n3"]
    for r, node in zip(results, stack_lab.nodes[1:]):
        assert r.ok, r.error
        assert r.answer == "hello %s, this is n1 (%s)" % (node.ztid, n1.ztid)
        assert r.ip == node.ip() and r.connect_ms > 0 and r.answer_ms > 0
    text = out.getvalue()
    assert "[tcp] n1 (%s) serves on %s:7" % (n1.ztid, n1.ip()) in text
    assert len(re.findall(r"^\[tcp\] n[23] +[0-9a-f]{10} .* connect +[\d.]+ ms +answer +[\d.]+ ms", text, re.M)) == 2
    assert "[tcp] 2 of 2 clients answered" in text
    # The service can run again (the port was released).
    assert all(r.ok for r in stack_lab.tcp_demo(port=7, out=False))


def test_repl_tcp_flag_runs_the_tcp_service():
    require_sockets()
    r = subprocess.run([PY, "-m", "ztcore.scapy", "-n", "3", "--quiet", "--tcp", "--run",
                        "print('STACK', all(n.stack for n in lab.nodes))"],
                       env=env(), cwd=str(REPO), capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[tcp] 2 of 2 clients answered" in r.stdout, r.stdout
    assert len(re.findall(r"^\[tcp\] n[23] .*'hello [0-9a-f]{10}, this is n1", r.stdout, re.M)) == 2, r.stdout
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
