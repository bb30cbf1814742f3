# Our ztcore stack node for the interop check (runs in netns zta).
# Serves TCP on port 7000 (IPv4 + IPv6): sends a greeting, echoes one line.
# Client jobs: write "IP PORT" into $ZTI_DIR/connect_to; the node connects, sends an HTTP GET,
# prints the answer and writes it into $ZTI_DIR/connect_result.
import logging, os, socket, sys, threading, time
from ztcore import Runtime, Node

NWID = sys.argv[1]
logging.basicConfig(level=logging.DEBUG if "-v" in sys.argv else logging.INFO,
                    format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
D = os.environ.get("ZTI_DIR", "/tmp/ztcore-interop")
rt = Runtime()
n = Node(rt, "ours", home=D + "/ournode", port=29994, bind="192.168.77.1", planet=D + "/planet",
         allow_loopback=False, join=[NWID], stack=True)
print("ztid", n.ztid, flush=True)
rt.wait_for(lambda: n.stack_ready(NWID), timeout=600)
print("network", n.network(NWID), flush=True)
print("READY v4", n.ip(socket.AF_INET, NWID), "v6", n.ip(socket.AF_INET6, NWID), "mac", n.network_mac(NWID), flush=True)


def serve(fam, addr):
    srv = n.socket(fam, socket.SOCK_STREAM)
    srv.bind((addr, 7000))
    srv.listen()
    print("listening", addr, 7000, flush=True)
    while True:
        conn, peer = srv.accept()
        print("accepted", peer, flush=True)
        def handle(conn=conn, peer=peer):
            with conn:
                conn.sendall(b"hello from ztcore %s\n" % str(n.ztid).encode())
                data = conn.recv(1000)
                print("got from", peer, data, flush=True)
                conn.sendall(b"echo: " + data)
        threading.Thread(target=handle, daemon=True).start()


def sink(addr):
    srv = n.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((addr, 7001)); srv.listen()
    while True:
        conn, peer = srv.accept()
        def handle(conn=conn, peer=peer):
            with conn:
                t0 = time.monotonic(); total = 0
                while True:
                    d = conn.recv(65536)
                    if not d:
                        break
                    total += len(d)
                dt = time.monotonic() - t0
                print("sink got %d bytes from %s in %.2f s" % (total, peer, dt), flush=True)
                conn.sendall(b"%d\n" % total)
        threading.Thread(target=handle, daemon=True).start()


threading.Thread(target=sink, args=(n.ip(socket.AF_INET, NWID),), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET, n.ip(socket.AF_INET, NWID)), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET6, n.ip(socket.AF_INET6, NWID)), daemon=True).start()

while True:
    time.sleep(0.5)
    try:
        job = open(D + "/connect_to").read().split()
    except FileNotFoundError:
        continue
    os.unlink(D + "/connect_to")
    ip, port = job[0], int(job[1])
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    t0 = time.monotonic()
    try:
        with n.socket(fam, socket.SOCK_STREAM) as c:
            c.settimeout(15)
            c.connect((ip, port))
            print("connected to", ip, port, "in %.1f ms" % ((time.monotonic() - t0) * 1000), flush=True)
            c.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            buf = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
        res = "OK %d bytes: %r" % (len(buf), buf[:200])
    except Exception as e:
        res = "FAIL %r" % (e,)
    print("client", ip, port, res, flush=True)
    open(D + "/connect_result", "w").write(res + "\n")
