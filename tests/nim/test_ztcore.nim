## The Nim binding (bindings/nim/ztcore.nim) over libztcore.so: typed ids, ZtError, ownership,
## the socket procs (TCP listen/accept/connect/send/recv/close, UDP bind/sendTo/recvFrom) between
## two stack members of a private network on 127.0.0.1, and the ABI 1.3 diagnostics (explain, pcap,
## a trace's fields) on a network with rules. Exit 0 only if every check passed.
import std/[json, locks, options, os, strutils, times]
import ztcore

var failures = 0
template check(cond: untyped) =
  if not cond:
    inc failures
    echo "FAILED: ", astToStr(cond), " (line ", instantiationInfo().line, ")"

template expectZt(want: cint, body: untyped) =
  try:
    body
    inc failures
    echo "FAILED: no ZtError (line ", instantiationInfo().line, ")"
  except ZtError as e:
    if e.code != want.int:
      inc failures
      echo "FAILED: code ", e.code, " ", e.msg, " (line ", instantiationInfo().line, ")"

proc waitFor(pred: proc (): bool, seconds = 30.0): bool =
  let until = epochTime() + seconds
  while epochTime() < until:
    if pred(): return true
    sleep 20
  pred()

# Ids print as hex.
check $Address(0x89e92cee'u64) == "0089e92cee"
check $NetworkId(0x8056c2e21c000001'u64) == "8056c2e21c000001"
check $Mac(0x021122334455'u64) == "02:11:22:33:44:55"
check parseAddress("0089E92CEE") == Address(0x89e92cee'u64)
check networkId(Address(0x8056c2e21c'u64), 1) == NetworkId(0x8056c2e21c000001'u64)
expectZt(ZT_ERR_INVALID_ARGUMENT): discard parseAddress("xyz")
expectZt(ZT_ERR_INVALID_ARGUMENT): discard validateIdentity("not an identity")
check version().count('.') == 2

let rt = newRuntime()
let rootId = generateIdentity()
let probe = rt.newNode(NodeOptions(bindTo: "127.0.0.1", identity: rootId, allowLoopback: true))
let rootPort = probe.port
expectZt(ZT_ERR_IO):  # the same UDP port twice
  discard rt.newNode(NodeOptions(port: rootPort.uint16, bindTo: "127.0.0.1", allowLoopback: true))
probe.close()
probe.close()  # idempotent
expectZt(ZT_ERR_STATE): discard probe.address
let planet = makePlanet(1, 1700000000000'u64, rootId, "127.0.0.1/" & $rootPort)
let root = rt.newNode(NodeOptions(port: rootPort.uint16, bindTo: "127.0.0.1", planet: planet, identity: rootId,
                                  allowLoopback: true))
let ctl = newController()
let cnode = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, controller: ctl))
let nwid = networkId(cnode.address, 1)
discard ctl.requestOk("POST", "/controller/network/" & $nwid, """{"private":true,"v4AssignMode":{"zt":true},
  "ipAssignmentPools":[{"ipRangeStart":"10.79.0.1","ipRangeEnd":"10.79.0.254"}],
  "routes":[{"target":"10.79.0.0/24","via":null}]}""")
check ctl.request("GET", "/controller/network/0123456789abcdef").status == 404
let a = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[nwid], stack: true))
let b = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[nwid], stack: true))
ctl.authorize(nwid, a.address)
ctl.authorize(nwid, b.address)
var ipA, ipB: string
check waitFor(proc (): bool =
  let na = a.network(nwid)
  let nb = b.network(nwid)
  if na.isNone or nb.isNone: return false
  ipA = na.get.ip
  ipB = nb.get.ip
  ipA.len > 0 and ipB.len > 0)
check a.network(NetworkId(1)).isNone
check a.network(nwid).get.mac == a.mac(nwid)
echo "a ", a.address, " ", ipA, ", b ", b.address, " ", ipB

# TCP: b listens, a connects, echo.
let srv = b.newTcpSocket()
check waitFor(proc (): bool =
  try:
    srv.bindAddr(7010)
    true
  except ZtError: false, 5.0)
srv.listen()
check srv.localAddress.port == 7010
# The network's address shows before a's stack has configured it: connect fails with
# ZT_ERR_UNREACHABLE ("no stack address of this family") until then; a fresh socket each try.
var cli: ZtSocket
check waitFor(proc (): bool =
  cli = a.newTcpSocket()
  cli.setTimeout(10_000)
  try:
    cli.connect(ipB, 7010)
    true
  except ZtError as e:
    cli.close()
    if e.code != ZT_ERR_UNREACHABLE.int: raise
    false, 10.0)
let (conn, peerIp, _) = srv.accept()
check peerIp == ipA
conn.setTimeout(10_000)
cli.sendAll("ping over tcp")
var got = ""
while got.len < 13:
  let part = conn.recv()
  if part.len == 0: break
  got.add part
check got == "ping over tcp"
conn.sendAll(got)
var back = ""
while back.len < got.len: back.add cli.recv()
check back == got
cli.shutdown()
check conn.recv() == ""  # end of stream
conn.close()
expectZt(ZT_ERR_STATE): discard conn.send("x")
let refused = a.newTcpSocket()
refused.setTimeout(10_000)
expectZt(ZT_ERR_CONN_REFUSED): refused.connect(ipB, 7011)

# UDP: a sends until b hears it; b answers to the sender.
let ub = b.newUdpSocket()
let ua = a.newUdpSocket()
ub.bindAddr(7012)
ub.setTimeout(200)
ua.setTimeout(3000)
var dg: tuple[data, ip: string, port: int]
check waitFor(proc (): bool =
  ua.sendTo("udp ping", ipB, 7012)
  try:
    dg = ub.recvFrom()
    true
  except ZtError: false, 10.0)
check dg.data == "udp ping"
check dg.ip == ipA
ub.sendTo("udp pong", dg.ip, dg.port.uint16)
let reply = ua.recvFrom()
check reply.data == "udp pong" and reply.ip == ipB and reply.port == 7012
ub.setTimeout(0)
expectZt(ZT_ERR_AGAIN): discard ub.recvFrom()

# A socket outliving its node: calls fail with ZT_ERR_STATE, close still frees.
let c = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[nwid], stack: true))
let orphan = c.newUdpSocket()
c.close()
expectZt(ZT_ERR_STATE): orphan.sendTo("x", ipA, 9)
orphan.close()
let plain = rt.newNode(NodeOptions(bindTo: "127.0.0.1", allowLoopback: true))
expectZt(ZT_ERR_STATE): discard plain.newTcpSocket()

# ABI 1.3 diagnostics on network 2, whose rules drop ethertype 0x88b6 on receipt (rules 0 chr,
# 1 ethertype, 2 drop, 3 accept): explain's verdicts without sending, then the real frame dropped
# by the receiver, whose trace and capture name the rule explain named.
var traceLock: Lock
initLock(traceLock)
var traces: seq[Event]
var heard: seq[string]
proc onTrace(e: Event) {.gcsafe.} =
  if e.hasTrace and e.code == 2006:
    {.cast(gcsafe).}:
      withLock traceLock: traces.add e
proc onHeard(f: Frame) {.gcsafe.} =
  {.cast(gcsafe).}:
    withLock traceLock: heard.add f.data
let rnwid = networkId(cnode.address, 2)
discard ctl.requestOk("POST", "/controller/network/" & $rnwid,
  """{"private":true,"rulesSource":"drop chr inbound ethertype 0x88b6;\naccept;\n"}""")
let rr = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[rnwid],
                                onEvent: onTrace, onFrame: onHeard))
let rs = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[rnwid]))
ctl.authorize(rnwid, rr.address)
ctl.authorize(rnwid, rs.address)
check waitFor(proc (): bool =
  let x = rr.network(rnwid)
  let y = rs.network(rnwid)
  x.isSome and x.get.ok and y.isSome and y.get.ok)

proc ethFrame(dst, src: Mac, ethertype: uint16, payload: string): string =
  for m in [dst, src]:
    for i in countdown(5, 0): result.add char((uint64(m) shr (8 * i)) and 0xff)
  result.add char(ethertype shr 8)
  result.add char(ethertype and 0xff)
  result.add payload
let marker = "dropped on the way in"
let dropped = ethFrame(rr.mac(rnwid), rs.mac(rnwid), 0x88b6, marker)
let xout = rs.explain(rnwid, dropped)
check xout["verdict"].getStr == "accept" and xout["rule"].getInt == 3
let xin = rr.explain(rnwid, dropped, inbound = true, peer = rs.address)
check xin["verdict"].getStr == "drop"
check xin["rule"].getInt == 2 and xin["capability"].kind == JNull
check xin["reason"].getStr.startsWith("rule 2 DROP")
check xin["rules"].len == 4 and xin["rules"][2]["decided"].getBool
check rr.explain(rnwid, ethFrame(rr.mac(rnwid), rs.mac(rnwid), 0x88b5, marker), true)["verdict"].getStr == "accept"
check rr.explainJson(rnwid, dropped, true, rs.address).startsWith("{\"verdict\":\"drop\"")
expectZt(ZT_ERR_NOT_FOUND): discard rs.explain(NetworkId(uint64(rnwid) xor 0xff), dropped)
expectZt(ZT_ERR_INVALID_ARGUMENT): discard rs.explain(rnwid, dropped[0 .. 12])
expectZt(ZT_ERR_INVALID_ARGUMENT): discard rs.explain(rnwid, dropped, peer = rs.address)

let capDir = getTempDir() / ("ztcore_nim_pcap_" & $getCurrentProcessId())
createDir(capDir)
expectZt(ZT_ERR_IO): rr.pcapStart(capDir / "missing" / "rr.pcapng")
rr.pcapStart(capDir / "rr.pcapng")
check waitFor(proc (): bool =
  rs.sendFrame(rnwid, rr.mac(rnwid), 0x88b6'u16, marker)
  sleep 100
  withLock traceLock: result = traces.len > 0)
rr.pcapStop()
withLock traceLock:
  if traces.len > 0:
    let t = traces[0]
    check t.kind == evTrace and t.traceName == "NETWORK_FILTER_TRACE"
    check t.nwid == rnwid and t.peer == rs.address and t.inbound
    check t.rule == xin["rule"].getInt and t.action == "DROP" and t.capability.isNone
    check t.reason.startsWith("rule 2 DROP")
    check t.srcMac == rs.mac(rnwid) and t.dstMac == rr.mac(rnwid) and t.ethertype == 0x88b6'u16
    check t.frame == marker and t.frameLen == marker.len
  check marker notin heard
let cap = readFile(capDir / "rr.pcapng")
check cap.len >= 4 and cap[0 .. 3] == "\x0a\x0d\x0d\x0a"  # pcapng Section Header Block
check ("in from " & $rs.address & " dropped: rule 2 DROP") in cap
removeDir(capDir)

for s in [srv, cli, refused, ub, ua]: s.close()
for n in [plain, a, b, rr, rs, cnode, root]: n.close()
deinitLock(traceLock)
if failures == 0:
  echo "OK: nim binding"
quit(if failures == 0: 0 else: 1)
