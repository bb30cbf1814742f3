## The seed's broadcast ping/pong with the Nim binding (bindings/nim/ztcore.nim), in one process on
## 127.0.0.1: a root (with a planet made for it), a node serving an embedded controller with a
## private network, and three members. Every member broadcasts "ping from ztid <address>"; a member
## hearing a ping answers "pong from ztid <address>" to the sender's MAC. Each member prints the
## pongs it received; exit 0 only if every member got a pong from every other member.
## Frame callbacks run on the runtime's thread and may not call into it: they queue, main answers.
## Built and run by ctest (example_nim_pingpong).
import std/[locks, options, os, sets, strutils, tables, times]
import ztcore

const labEthertype = 0x88b5'u16  # IEEE 802 local experimental

type
  Received = object
    member: int
    src: Mac
    text: string
  Inbox = ref object
    lock: Lock
    items: seq[Received]

proc queueTo(inbox: Inbox, member: int): FrameHandler =
  ## Member `member`'s frame callback (a proc per member: closures made in a loop would share `i`).
  result = proc (f: Frame) {.gcsafe.} =
    if f.ethertype != labEthertype: return
    withLock inbox.lock:
      inbox.items.add Received(member: member, src: f.src, text: f.data)

proc main(): int =
  let rt = newRuntime()
  # Root: learn a free port with a probe node, make a planet naming it, start the root there.
  let rootId = generateIdentity()
  let probe = rt.newNode(NodeOptions(bindTo: "127.0.0.1", identity: rootId, allowLoopback: true))
  let port = probe.port
  probe.close()
  let planet = makePlanet(1, 1700000000000'u64, rootId, "127.0.0.1/" & $port)
  let root = rt.newNode(NodeOptions(port: port.uint16, bindTo: "127.0.0.1", planet: planet, identity: rootId,
                                    allowLoopback: true))

  # Controller node and a private network.
  let ctl = newController()
  let cnode = rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, controller: ctl))
  let nwid = networkId(cnode.address, 1)
  discard ctl.requestOk("POST", "/controller/network/" & $nwid, """{"private":true,"multicastLimit":64}""")
  echo "root ", root.address, ", controller ", cnode.address, ", network ", nwid

  # Three members whose frame callbacks queue what arrives.
  let inbox = Inbox()
  initLock(inbox.lock)
  var members: seq[Node]
  for i in 0 ..< 3:
    members.add rt.newNode(NodeOptions(bindTo: "127.0.0.1", planet: planet, allowLoopback: true, join: @[nwid],
                                       onFrame: queueTo(inbox, i)))
    ctl.authorize(nwid, members[^1].address)
  var deadline = epochTime() + 60
  while true:
    var ready = 0
    for m in members:
      let n = m.network(nwid)
      if n.isSome and n.get.ok: inc ready
    if ready == members.len: break
    if epochTime() > deadline:
      echo "FAILED: members got no network config"
      return 1
    sleep 50
  var index = initTable[Address, int]()
  for i, m in members:
    index[m.address] = i
    echo "member ", i + 1, " ", m.address, " mac ", m.mac(nwid)

  # Each member broadcasts its ping once a second until it has every pong (UDP may drop one).
  var pongs = newSeq[HashSet[Address]](members.len)
  proc done(): bool =
    for p in pongs:
      if p.len < members.len - 1: return false
    true
  deadline = epochTime() + 60
  var lastPing = 0.0
  while not done() and epochTime() < deadline:
    if epochTime() - lastPing >= 1.0:
      for i, m in members:
        if pongs[i].len < members.len - 1:
          m.sendFrame(nwid, broadcastMac, labEthertype, "ping from ztid " & $m.address)
      lastPing = epochTime()
    var batch: seq[Received]
    withLock inbox.lock:
      swap(batch, inbox.items)
    if batch.len == 0:
      sleep 20
    for r in batch:
      let me = members[r.member]
      if r.text.startsWith("ping from ztid "):
        me.sendFrame(nwid, r.src, labEthertype, "pong from ztid " & $me.address)
      elif r.text.startsWith("pong from ztid "):
        let src = parseAddress(r.text[15 .. ^1])
        if src in index and src != me.address and not pongs[r.member].containsOrIncl(src):
          echo "member ", r.member + 1, " ", me.address, " got \"", r.text, "\""
  var total = 0
  for p in pongs: total += p.len
  let ok = done()
  echo (if ok: "OK" else: "FAILED"), ": ", total, "/", members.len * (members.len - 1), " pongs"
  for m in members: m.close()  # callbacks stop before the inbox goes
  cnode.close()
  root.close()
  deinitLock(inbox.lock)
  if ok: 0 else: 1

when isMainModule:
  try:
    quit(main())
  except ZtError as e:
    stderr.writeLine "ztcore error ", e.code, ": ", e.msg
    quit(1)
