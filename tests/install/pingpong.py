"""The seed's broadcast ping/pong through an installed ztcore package (tests/install/venv.sh):
every member of a 3-node Lab broadcasts "ping from ztid <address>", members answer
"pong from ztid <address>" to the sender's MAC; exit 0 only if every member got every pong.
argv[1]: the prefix the library must have been found in (proves the package's own search)."""
import os
import sys
import time

import ztcore

prefix = os.path.realpath(sys.argv[1])
print("ztcore", ztcore.version(), "package", os.path.dirname(ztcore.__file__))
print("library", ztcore.LIB_PATH, "header", ztcore.HEADER_PATH)
if not os.path.realpath(ztcore.LIB_PATH).startswith(prefix + os.sep):
    sys.exit("FAILED: the library was not found in %s" % prefix)

with ztcore.Lab(3, wire_log=False) as lab:
    nodes = lab.nodes
    pongs = {n.ztid: set() for n in nodes}
    answered = {n.ztid: 0 for n in nodes}  # frames of vframes already handled
    deadline = time.monotonic() + 60
    last_ping = 0.0
    while time.monotonic() < deadline and any(len(p) < len(nodes) - 1 for p in pongs.values()):
        if time.monotonic() - last_ping >= 1:
            for n in nodes:
                if len(pongs[n.ztid]) < len(nodes) - 1:
                    n.broadcast_eth(lab.nwid, "ping from ztid %s" % n.ztid)
            last_ping = time.monotonic()
        time.sleep(0.02)
        for n in nodes:
            frames = n.vframes
            for f in frames[answered[n.ztid]:] if len(frames) >= answered[n.ztid] else frames:
                if f.ethertype != ztcore.LAB_ETHERTYPE:
                    continue
                if f.text.startswith("ping from ztid "):
                    n.send_eth(lab.nwid, None, f.src, ztcore.LAB_ETHERTYPE, "pong from ztid %s" % n.ztid)
                elif f.text.startswith("pong from ztid "):
                    src = f.text[len("pong from ztid "):]
                    if src != str(n.ztid) and src not in pongs[n.ztid]:
                        pongs[n.ztid].add(src)
                        print("%s got %r" % (n.ztid, f.text))
            answered[n.ztid] = len(frames)
    total = sum(len(p) for p in pongs.values())
    ok = all(len(p) == len(nodes) - 1 for p in pongs.values())
    print("%s: %d/%d pongs" % ("OK" if ok else "FAILED", total, len(nodes) * (len(nodes) - 1)))
sys.exit(0 if ok else 1)
