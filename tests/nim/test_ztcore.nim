## The Nim binding (bindings/nim/ztcore.nim) over libztcore.so: typed ids, ZtError, ownership, and
## the socket procs (TCP listen/accept/connect/send/recv/close, UDP bind/sendTo/recvFrom) between
## two stack members of a private network on 127.0.0.1. Exit 0 only if every check passed.
import std/[options, os, strutils, times]
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

for s in [srv, cli, refused, ub, ua]: s.close()
for n in [plain, a, b, cnode, root]: n.close()
if failures == 0:
  echo "OK: nim binding"
quit(if failures == 0: 0 else: 1)
