#!/bin/bash
# Interop check: stock ZeroTier 1.14.1 (netns ztb) <-> ztcore stack node (netns zta).
# Traffic stays inside two namespaces joined by a veth pair (192.168.77.1 <-> 192.168.77.2).
# Usage: interop-check.sh setup | check | trace | cleanup
set -u
# Manual tool (not run by CI): needs root, iproute2, tcpdump, curl, and a stock ZeroTierOne
# built OUTSIDE this repository (never commit it): `make one ZT_SSO_SUPPORTED=0` in its tree.
#   ZT_STOCK=/path/to/ZeroTierOne scripts/interop/stock_check.sh setup|check|cleanup
REPO=$(cd "$(dirname "$0")/../.." && pwd)
B=${ZTCORE_BIN:-$REPO/build/ztcore}         # our CLI
LIB=${ZTCORE_LIB:-$REPO/build/libztcore.so} # our library (the stack node is Python over it)
STOCK=${ZT_STOCK:?set ZT_STOCK to a built stock ZeroTierOne tree}
D=${ZTI_DIR:-/tmp/ztcore-interop}           # state, logs, captures
OURNODE=$REPO/scripts/interop/ournode.py    # our stack node (Python over libztcore.so)
export ZTI_DIR=$D
NW=""                                       # network id, read from $D/nwid after setup

setup() {
  mkdir -p $D && cd $D || exit 1
  rm -rf $D/root $D/ctl $D/stock  # a stock home from an earlier run keeps its old network joined
  ip netns add zta; ip netns add ztb
  ip link add vza type veth peer name vzb
  ip link set vza netns zta; ip link set vzb netns ztb
  ip -n zta addr add 192.168.77.1/24 dev vza; ip -n ztb addr add 192.168.77.2/24 dev vzb
  for ns in zta ztb; do ip -n $ns link set lo up; done
  ip -n zta link set vza up; ip -n ztb link set vzb up

  # our root (makes the planet naming 192.168.77.1/29993) and controller, in zta
  ip netns exec zta nice -n 19 $B root --home $D/root --port 29993 --bind 192.168.77.1 \
      --planet-out $D/planet --verbose > $D/root.log 2>&1 & echo $! > $D/root.pid
  # wait for what each step needs instead of fixed sleeps (identity generation is slow on a
  # loaded machine)
  for i in $(seq 120); do [ -s $D/planet ] && grep -q started $D/root.log && break; sleep 0.5; done
  ip netns exec zta nice -n 19 $B controller --home $D/ctl --port 29990 --bind 192.168.77.1 \
      --planet $D/planet --http 127.0.0.1:29900 > $D/ctl.log 2>&1 & echo $! > $D/ctl.pid
  for i in $(seq 120); do grep -q '^controller' $D/ctl.log && [ -s $D/ctl/authtoken.secret ] && break; sleep 0.5; done
  CTL=$(awk '/^controller/{print $2}' $D/ctl.log); T=$(cat $D/ctl/authtoken.secret)
  ip netns exec zta curl -s -X POST -H "X-ZT1-Auth: $T" -d '{"name":"interop","private":true,
     "v4AssignMode":{"zt":true},"v6AssignMode":{"rfc4193":true,"zt":true,"6plane":false},
     "ipAssignmentPools":[{"ipRangeStart":"10.147.20.1","ipRangeEnd":"10.147.20.254"},
                          {"ipRangeStart":"fd77::100","ipRangeEnd":"fd77::1ff"}],
     "routes":[{"target":"10.147.20.0/24","via":null},{"target":"fd77::/64","via":null}]}' \
     http://127.0.0.1:29900/controller/network/${CTL}______ > $D/net.json
  NW=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["id"])' $D/net.json); echo $NW > $D/nwid

  # our stack node (Python over the C ABI; TCP server on :7000, client jobs via $D/connect_to)
  PYTHONPATH=$REPO/python ZTCORE_LIB=$LIB \
    ip netns exec zta nice -n 19 /usr/bin/python3 -u $OURNODE $NW -v > $D/ournode.log 2>&1 &
  echo $! > $D/ournode.pid
  # stock node in ztb: our planet in its home before the first start
  mkdir -p $D/stock && cp $D/planet $D/stock/planet
  echo '{"settings":{"allowTcpFallbackRelay":false,"portMappingEnabled":false,"allowSecondaryPort":false}}' > $D/stock/local.conf
  ip netns exec ztb nice -n 19 $STOCK/zerotier-one -p29995 $D/stock > $D/stock.log 2>&1 & echo $! > $D/stock.pid
  sleep 15
  ip netns exec ztb $STOCK/zerotier-one -q -D$D/stock join $NW
  sleep 3
  OURS=$(awk '/^ztid/{print $2}' $D/ournode.log)
  STOCKID=$(ip netns exec ztb $STOCK/zerotier-one -q -D$D/stock info | awk '{print $3}')
  for i in $(seq 60); do [ -n "$OURS" ] && break; sleep 1; OURS=$(awk '/^ztid/{print $2}' $D/ournode.log); done
  for m in $OURS $STOCKID; do
    ip netns exec zta curl -s -X POST -H "X-ZT1-Auth: $T" -d '{"authorized":true}' \
      http://127.0.0.1:29900/controller/network/$NW/member/$m > /dev/null
  done
  for i in $(seq 90); do grep -q READY $D/ournode.log && break; sleep 1; done
  sleep 10
  ip netns exec ztb $STOCK/zerotier-one -q -D$D/stock listnetworks
  grep READY $D/ournode.log
}

check() {
  cd $D || exit 1
  NW=$(cat $D/nwid)
  V4=$(awk '/^READY/{print $3}' $D/ournode.log); V6=$(awk '/^READY/{print $5}' $D/ournode.log)
  DEV=$(ip netns exec ztb ip -o link | awk -F': ' '/ zt/{print $2}' | head -1)
  SV4=$(ip netns exec ztb ip -4 -o addr show dev $DEV | awk '{print $4}' | cut -d/ -f1)
  SV6=$(ip netns exec ztb ip -6 -o addr show dev $DEV scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  echo "ours v4=$V4 v6=$V6 ; stock dev=$DEV v4=$SV4 v6=$SV6"
  ip netns exec ztb timeout 120 tcpdump -l -n -e -i $DEV > $D/tcpdump.txt 2>&1 & TD=$!
  sleep 1
  echo "== (a) IPv4 ping (ARP + ICMP)"; ip netns exec ztb ping -c 4 -W 2 $V4; A4=$?
  ip netns exec ztb ip neigh show dev $DEV
  echo "== (a) IPv6 ping"; ip netns exec ztb ping -6 -c 4 -W 2 $V6; A6=$?
  ip netns exec ztb ip -6 neigh show dev $DEV
  echo "== (b) stock -> our TCP server :7000 (IPv4, IPv6)"
  ip netns exec ztb python3 - "$V4" "$V6" <<'EOF'
import socket, sys
for ip in sys.argv[1:3]:
    try:
        s = socket.create_connection((ip, 7000), timeout=10)
        g = s.recv(100); s.sendall(b"ping from stock\n"); e = s.recv(100); s.close()
        print("OK", ip, g, e)
    except Exception as ex:
        print("FAIL", ip, repr(ex))
EOF
  echo "== (c) our node -> stock HTTP server (python3 -m http.server 8000 in ztb)"
  ip netns exec ztb python3 -m http.server 8000 --bind :: --directory $D/stock > $D/http.log 2>&1 & HS=$!
  sleep 2
  for ip in $SV4 $SV6; do
    rm -f $D/connect_result; echo "$ip 8000" > $D/connect_to
    for i in $(seq 40); do [ -s $D/connect_result ] && break; sleep 0.5; done
    echo "$ip: $(cat $D/connect_result 2>/dev/null)"
  done
  kill $HS; sleep 1; kill $TD
  echo "== tcpdump ($D/tcpdump.txt)"; head -80 $D/tcpdump.txt

  echo "== extra: real NDP (non-RFC4193 address from the fd77::/64 pool: no NDP emulation on either side)"
  FV6=$(grep -o 'fd77::[0-9a-f]*' $D/ournode.log | head -1)
  SF6=$(ip netns exec ztb ip -6 -o addr show dev $DEV | grep -o 'fd77::[0-9a-f]*' | head -1)
  ip netns exec ztb ip neigh flush dev $DEV
  ip netns exec ztb timeout 30 tcpdump -l -n -e -i $DEV icmp6 > $D/tcpdump-ndp.txt 2>&1 & TD=$!; sleep 1
  ip netns exec ztb ping -6 -c 3 -W 2 $FV6; sleep 1; kill $TD; grep -i neighbor $D/tcpdump-ndp.txt
  echo "== extra: large pings (MTU 2800, IP fragmentation)"
  for sz in 1400 2752 5000 20000; do echo "v4 -s $sz: $(ip netns exec ztb ping -c 3 -W 2 -s $sz $V4 | grep transmitted)"; done
  for sz in 1400 2732 5000 20000; do echo "v6 -s $sz: $(ip netns exec ztb ping -6 -c 3 -W 2 -s $sz $V6 | grep transmitted)"; done
  echo "== extra: bulk 5 MB stock -> our sink :7001, and our node downloading 5 MB from the stock host"
  ip netns exec ztb python3 - "$V4" <<'EOF2'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7001), timeout=60)
t0 = time.monotonic(); s.sendall(b"x" * 5000000); s.shutdown(socket.SHUT_WR)
print("upload: answer", s.recv(100), "in %.2f s" % (time.monotonic() - t0))
EOF2
  mkdir -p $D/stock/bigdir; head -c 5000000 /dev/urandom > $D/stock/bigdir/index.html
  ip netns exec ztb python3 -m http.server 8000 --bind :: --directory $D/stock/bigdir > $D/http.log 2>&1 & HS=$!; sleep 2
  t0=$(date +%s.%N); rm -f $D/connect_result; echo "$SV4 8000" > $D/connect_to
  for i in $(seq 600); do [ -s $D/connect_result ] && break; sleep 0.1; done
  echo "download: $(cut -c1-20 $D/connect_result) in $(echo "$(date +%s.%N) - $t0" | bc) s"
  kill $HS

  echo "== extra: restart our node, reconnect at once to the same server (stock host with tcp_rfc1337=1)"
  ip netns exec ztb sysctl -qw net.ipv4.tcp_rfc1337=1
  ip netns exec ztb python3 -m http.server 8000 --bind :: --directory $D/stock > $D/http.log 2>&1 & HS=$!
  ip netns exec ztb timeout 120 tcpdump -l -n -i $DEV tcp port 8000 > $D/tcpdump-restart.txt 2>&1 & TD=$!
  for run in A B; do
    kill $(cat $D/ournode.pid); sleep 3; mv $D/ournode.log $D/ournode.before-$run.log; rm -f $D/connect_to $D/connect_result
    PYTHONPATH=$REPO/python ZTCORE_LIB=$LIB \
      ip netns exec zta nice -n 19 /usr/bin/python3 -u $OURNODE $NW -v > $D/ournode.log 2>&1 &
    echo $! > $D/ournode.pid
    for i in $(seq 60); do grep -q READY $D/ournode.log && break; sleep 1; done
    echo "$SV4 8000" > $D/connect_to
    for i in $(seq 60); do [ -s $D/connect_result ] && break; sleep 0.5; done
    echo "run $run: $(cut -c1-90 $D/connect_result)"
  done
  sleep 1; kill $HS $TD; ip netns exec ztb sysctl -qw net.ipv4.tcp_rfc1337=0
  grep "Flags \[S\]\|Flags \[R" $D/tcpdump-restart.txt
}

# REMOTE_TRACE both ways of the wire format: the network gets the controller as trace target
# (level 15) and a rule dropping UDP to port 9999; the stock node pings our node and sends one
# UDP datagram to :9999. The controller must hold 2006 dictionaries from BOTH nodes (stock's
# decoded by our code), with the same keys, and stock's drop (filterResult 0) plus its 2000.
trace() {
  cd $D || exit 1
  NW=$(cat $D/nwid); CTL=$(awk '/^controller/{print $2}' $D/ctl.log); T=$(cat $D/ctl/authtoken.secret)
  OURS=$(awk '/^ztid/{print $2}' $D/ournode.log)
  STOCKID=$(ip netns exec ztb $STOCK/zerotier-one -q -D$D/stock info | awk '{print $3}')
  ip netns exec zta curl -s -o /dev/null -X POST -H "X-ZT1-Auth: $T" \
    -d "{\"remoteTraceTarget\":\"$CTL\",\"remoteTraceLevel\":15,\"rulesSource\":\"drop ethertype ipv4 ipprotocol udp dport 9999;\\naccept;\\n\"}" \
    http://127.0.0.1:29900/controller/network/$NW
  sleep 8  # both members fetch the new config
  V4=$(awk '/^READY/{print $3}' $D/ournode.log)
  ip netns exec ztb ping -c 3 -W 2 $V4 | tail -2
  ip netns exec ztb python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('$V4', 9999))"
  sleep 3
  ip netns exec zta curl -s -H "X-ZT1-Auth: $T" http://127.0.0.1:29900/controller/network/$NW/trace > $D/trace.json
  /usr/bin/python3 - $D/trace.json "$OURS" "$STOCKID" <<'EOF3'
import json, sys
d = json.load(open(sys.argv[1])); ours, stock = sys.argv[2], sys.argv[3]
keys = {}
for t in d:
    keys.setdefault((t["origin"], t["event"]), set(t))
print("REMOTE_TRACE kept:", len(d), sorted((o, e) for o, e in keys))
ok = ("%s" % ours, "2006") in keys and (stock, "2006") in keys
ok = ok and keys[(ours, "2006")] == keys[(stock, "2006")]
ok = ok and any(t["origin"] == stock and t["event"] == "2006" and t.get("filterResult") == 0 for t in d)
ok = ok and any(t["origin"] == stock and t["event"] == "2000" and t.get("reason") == "filter blocked" for t in d)
print("OK: REMOTE_TRACE interop" if ok else "FAIL: REMOTE_TRACE interop")
sys.exit(0 if ok else 1)
EOF3
}

cleanup() {
  for p in ournode stock ctl root; do [ -f $D/$p.pid ] && kill $(cat $D/$p.pid) 2>/dev/null; done
  sleep 2
  ip netns del zta; ip netns del ztb
}

"${1:-check}"
