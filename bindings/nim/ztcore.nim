## ztcore for Nim: embeddable ZeroTier-compatible nodes over the C ABI of libztcore.so.
##
## The C declarations come from ``ztcore/ztcore.h`` itself (``importc`` + ``header``): the C
## compiler checks every type and field used here against the one header, so this module holds
## no second copy of the ABI or the protocol.
##
## Build with ``--threads:on --mm:orc -d:useMalloc`` and the header and library on the search
## paths, e.g. ``nim c --threads:on --mm:orc -d:useMalloc --path:bindings/nim
## --passC:-I<prefix>/include --passL:"-L<prefix>/lib -lztcore" app.nim``.
## Callbacks (`onFrame`, `onEvent`, `onNetwork`) run on the runtime's own thread, a thread
## Nim did not create: ``-d:useMalloc`` makes what they allocate plain malloc memory that any
## thread may free. They must not block and must not call into the same runtime (that raises
## `ZtError` with code ``ZT_ERR_STATE``); hand what they saw to another thread (a `Lock`-guarded
## queue, a `Channel`). Exceptions escaping a callback are written to stderr and dropped.
##
## Ownership mirrors the C++ API: a `Node` (and a `ZtSocket`) holds its `Runtime`, so the
## runtime's loop stops only after its last node; a node serving a `Controller` holds it too.
## `close` frees at once (idempotent); otherwise the destructors do it. Callbacks never run after
## `close` returned. A socket outliving its node gets `ZtError` (``ZT_ERR_STATE``) on every call.
## Failures raise `ZtError`, whose `code` is the ``zt_result`` and whose `msg` is the library's.
##
## Diagnostics (ABI 1.3): `pcapStart`/`pcapStop` write a pcapng capture, `explain` tells how a
## network's rules decide a frame (the library's JSON as a `JsonNode`, `explainJson` the text), and
## a trace `Event` (``evTrace``) carries its structured record (`hasTrace`, `code`, `rule`,
## `action`, `capability`, `reason`, `inbound`, MACs, ethertype, IP fields, the frame's start).

import std/[json, options, strutils, hashes]

const ztHeader = "ztcore/ztcore.h"
{.passL: "-lztcore".}

# ---- C ABI (declarations checked against the header) ------------------------------------------
type
  ZtResultC = cint
  RuntimeC {.importc: "zt_runtime", header: ztHeader, incompleteStruct.} = object
  NodeC {.importc: "zt_node", header: ztHeader, incompleteStruct.} = object
  ControllerC {.importc: "zt_controller", header: ztHeader, incompleteStruct.} = object
  SocketC {.importc: "zt_socket", header: ztHeader, incompleteStruct.} = object
  TraceC {.importc: "zt_trace", header: ztHeader, bycopy.} = object
    code: uint32
    nwid, peer, src_mac, dst_mac: uint64
    ethertype, vlan: uint16
    frame_len: uint32
    ip_version: cint
    src_ip, dst_ip: array[46, char]
    ip_protocol: uint8
    src_port, dst_port: uint16
    inbound: cint
    rule: cint
    action: cstring
    has_capability: cint
    capability: uint32
    reason: cstring
    frame: ptr UncheckedArray[byte]
    frame_captured: csize_t
  EventC {.importc: "zt_event", header: ztHeader, bycopy.} = object
    `type`: cint
    peer: uint64
    type_id: uint64
    data: ptr UncheckedArray[byte]
    len: csize_t
    text: cstring
    trace: ptr TraceC
  FrameC {.importc: "zt_frame", header: ztHeader, bycopy.} = object
    nwid, src_mac, dst_mac: uint64
    ethertype, vlan: uint16
    data: ptr UncheckedArray[byte]
    len: csize_t
  NetworkInfoC {.importc: "zt_network_info", header: ztHeader, bycopy.} = object
    nwid, mac: uint64
    name: array[128, char]
    status: cint
    status_name: cstring
    has_config: cint
    mtu: cuint
    address_count: cuint
    addresses: array[16, array[64, char]]
  NodeStatusC {.importc: "zt_node_status", header: ztHeader, bycopy.} = object
    address: uint64
    online: cint
    port: uint16
    public_identity: array[160, char]
  EventCb = proc (n: ptr NodeC, user: pointer, e: ptr EventC) {.cdecl, gcsafe.}
  FrameCb = proc (n: ptr NodeC, user: pointer, f: ptr FrameC) {.cdecl, gcsafe.}
  NetworkCb = proc (n: ptr NodeC, user: pointer, op: cint, info: ptr NetworkInfoC) {.cdecl, gcsafe.}
  NodeOptionsC {.importc: "zt_node_options", header: ztHeader, bycopy.} = object
    struct_size: uint32
    home: cstring
    port: uint16
    `bind`: cstring
    planet: ptr byte
    planet_len: csize_t
    planet_file: cstring
    identity: cstring
    allow_loopback: cint
    online_timeout_ms: int64
    on_event: EventCb
    user: pointer
    on_frame: FrameCb
    on_network: NetworkCb
    join: ptr uint64
    join_count: csize_t
    controller: ptr ControllerC
    stack: cint

let
  ZT_OK* {.importc, header: ztHeader.}: cint
  ZT_ERR_INVALID_ARGUMENT* {.importc, header: ztHeader.}: cint
  ZT_ERR_NOT_FOUND* {.importc, header: ztHeader.}: cint
  ZT_ERR_IO* {.importc, header: ztHeader.}: cint
  ZT_ERR_STATE* {.importc, header: ztHeader.}: cint
  ZT_ERR_TOO_LARGE* {.importc, header: ztHeader.}: cint
  ZT_ERR_AGAIN* {.importc, header: ztHeader.}: cint
  ZT_ERR_CONN_REFUSED* {.importc, header: ztHeader.}: cint
  ZT_ERR_TIMEOUT* {.importc, header: ztHeader.}: cint
  ZT_ERR_UNREACHABLE* {.importc, header: ztHeader.}: cint
  ZT_NETWORK_OK {.importc, header: ztHeader.}: cint
  ZT_AF_INET {.importc, header: ztHeader.}: cint
  ZT_AF_INET6 {.importc, header: ztHeader.}: cint
  ZT_SOCK_STREAM {.importc, header: ztHeader.}: cint
  ZT_SOCK_DGRAM {.importc, header: ztHeader.}: cint
  ZT_SHUT_WR* {.importc, header: ztHeader.}: cint

{.push importc, cdecl, header: ztHeader.}
proc zt_version(): cstring
proc zt_trace_code_name(code: uint32): cstring
proc zt_last_error(): cstring
proc zt_runtime_new(rt: ptr ptr RuntimeC): ZtResultC
proc zt_runtime_free(rt: ptr RuntimeC)
proc zt_node_options_init(o: ptr NodeOptionsC)
proc zt_node_new(rt: ptr RuntimeC, o: ptr NodeOptionsC, n: ptr ptr NodeC): ZtResultC
proc zt_node_free(n: ptr NodeC)
proc zt_node_status_get(n: ptr NodeC, s: ptr NodeStatusC): ZtResultC
proc zt_node_address(n: ptr NodeC): uint64
proc zt_node_join(n: ptr NodeC, nwid: uint64): ZtResultC
proc zt_node_leave(n: ptr NodeC, nwid: uint64): ZtResultC
proc zt_node_network(n: ptr NodeC, nwid: uint64, info: ptr NetworkInfoC): ZtResultC
proc zt_node_send_frame(n: ptr NodeC, nwid, src, dst: uint64, ethertype, vlan: uint16,
                        data: pointer, len: csize_t): ZtResultC
proc zt_node_send_user_message(n: ptr NodeC, dest, typeId: uint64, data: pointer, len: csize_t): ZtResultC
proc zt_network_mac(address, nwid: uint64): uint64
proc zt_node_pcap_start(n: ptr NodeC, path: cstring): ZtResultC
proc zt_node_pcap_stop(n: ptr NodeC): ZtResultC
proc zt_node_explain(n: ptr NodeC, nwid: uint64, frame: ptr byte, len: csize_t, inbound: cint, peer: uint64,
                     jsonOut: cstring, cap: csize_t, outLen: ptr csize_t): ZtResultC
proc zt_controller_new(db: cstring, c: ptr ptr ControllerC): ZtResultC
proc zt_controller_free(c: ptr ControllerC)
proc zt_controller_request(c: ptr ControllerC, meth, path, body: cstring, output: cstring, cap: csize_t,
                           outLen: ptr csize_t, status: ptr cint): ZtResultC
proc zt_planet_make(id, ts: uint64, rootIdentity, endpoints: cstring, output: ptr byte, cap: csize_t,
                    len: ptr csize_t): ZtResultC
proc zt_identity_generate(buf: cstring, cap: csize_t): ZtResultC
proc zt_identity_validate(text: cstring, address: ptr uint64): ZtResultC
proc zt_socket_new(n: ptr NodeC, family, typ: cint, s: ptr ptr SocketC): ZtResultC
proc zt_socket_bind(s: ptr SocketC, ip: cstring, port: uint16): ZtResultC
proc zt_socket_listen(s: ptr SocketC, backlog: cint): ZtResultC
proc zt_socket_accept(s: ptr SocketC, o: ptr ptr SocketC, ip: cstring, ipCap: csize_t, port: ptr uint16): ZtResultC
proc zt_socket_connect(s: ptr SocketC, ip: cstring, port: uint16): ZtResultC
proc zt_socket_send(s: ptr SocketC, data: pointer, len: csize_t, sent: ptr csize_t): ZtResultC
proc zt_socket_recv(s: ptr SocketC, buf: pointer, cap: csize_t, received: ptr csize_t): ZtResultC
proc zt_socket_sendto(s: ptr SocketC, data: pointer, len: csize_t, ip: cstring, port: uint16): ZtResultC
proc zt_socket_recvfrom(s: ptr SocketC, buf: pointer, cap: csize_t, received: ptr csize_t, ip: cstring,
                        ipCap: csize_t, port: ptr uint16): ZtResultC
proc zt_socket_shutdown(s: ptr SocketC, how: cint): ZtResultC
proc zt_socket_set_timeout(s: ptr SocketC, ms: int64): ZtResultC
proc zt_socket_local_address(s: ptr SocketC, ip: cstring, ipCap: csize_t, port: ptr uint16): ZtResultC
proc zt_socket_close(s: ptr SocketC)
{.pop.}

# ---- Errors and ids ---------------------------------------------------------------------------
type
  ZtError* = object of CatchableError
    code*: int  ## the zt_result (ZT_ERR_*)

proc raiseZt(code: cint, what = "") {.noinline.} =
  var m = $zt_last_error()
  if m.len == 0: m = what & " failed with zt_result " & $code
  raise (ref ZtError)(msg: m, code: code.int)

template check(r: ZtResultC) =
  let rc = r
  if rc != ZT_OK: raiseZt(rc)

type
  Address* = distinct uint64    ## 40-bit node address; `$` gives 10 hex digits
  NetworkId* = distinct uint64  ## 64-bit network id; `$` gives 16 hex digits
  Mac* = distinct uint64        ## 48-bit MAC; `$` gives 02:11:22:33:44:55

proc `==`*(a, b: Address): bool {.borrow.}
proc `==`*(a, b: NetworkId): bool {.borrow.}
proc `==`*(a, b: Mac): bool {.borrow.}
proc hash*(a: Address): Hash {.borrow.}
proc hash*(a: NetworkId): Hash {.borrow.}
proc hash*(a: Mac): Hash {.borrow.}
proc `$`*(a: Address): string = toHex(uint64(a), 10).toLowerAscii
proc `$`*(n: NetworkId): string = toHex(uint64(n), 16).toLowerAscii
proc `$`*(m: Mac): string =
  let h = toHex(uint64(m), 12).toLowerAscii
  for i in 0 ..< 6:
    if i > 0: result.add ':'
    result.add h[2*i .. 2*i+1]

proc parseHexId(s: string, digits: int, what: string): uint64 =
  if s.len == 0 or s.len > digits:
    raise (ref ZtError)(msg: "bad " & what & ": " & s, code: ZT_ERR_INVALID_ARGUMENT.int)
  try: result = fromHex[uint64](s)
  except ValueError: raise (ref ZtError)(msg: "bad " & what & ": " & s, code: ZT_ERR_INVALID_ARGUMENT.int)
proc parseAddress*(s: string): Address = Address(parseHexId(s, 10, "address"))
proc parseNetworkId*(s: string): NetworkId = NetworkId(parseHexId(s, 16, "network id"))
proc networkId*(controller: Address, n: uint32): NetworkId =
  ## Network number `n` (24 bits) of the controller at `controller`.
  NetworkId((uint64(controller) shl 24) or uint64(n and 0xffffff'u32))
proc macOf*(address: Address, nwid: NetworkId): Mac = Mac(zt_network_mac(uint64(address), uint64(nwid)))
const broadcastMac* = Mac(0xffffffffffff'u64)

proc version*(): string = $zt_version()

proc generateIdentity*(): string =
  ## A new identity's secret text form.
  var buf = newString(512)
  check zt_identity_generate(buf.cstring, buf.len.csize_t)
  result = $buf.cstring

proc validateIdentity*(text: string): Address =
  var a: uint64
  check zt_identity_validate(text.cstring, addr a)
  Address(a)

proc makePlanet*(id, timestampMs: uint64, rootIdentity, endpoints: string): seq[byte] =
  ## A signed planet with one root (secret identity text) at `endpoints` ("127.0.0.1/9993").
  result = newSeq[byte](4096)
  var n: csize_t
  check zt_planet_make(id, timestampMs, rootIdentity.cstring, endpoints.cstring, addr result[0],
                       result.len.csize_t, addr n)
  result.setLen(n.int)

proc cstr(a: openArray[char]): string =
  for c in a:
    if c == '\0': break
    result.add c

# ---- Controller ---------------------------------------------------------------------------------
type
  ControllerObj = object
    h: ptr ControllerC
  Controller* = ref ControllerObj  ## an embedded network controller

proc `=destroy`(c: var ControllerObj) =
  if c.h != nil:
    zt_controller_free(c.h)
    c.h = nil
proc `=copy`(a: var ControllerObj, b: ControllerObj) {.error.}

proc newController*(dbPath = ""): Controller =
  ## `dbPath`: SQLite file (created if missing); "" keeps everything in memory.
  result = Controller()
  check zt_controller_new(if dbPath.len > 0: dbPath.cstring else: nil, addr result.h)

proc request*(c: Controller, meth, path: string, body = ""): tuple[status: int, body: string] =
  ## zerotier-one's controller API without HTTP. A GET that does not fit is repeated bigger.
  var buf = newString(65536)
  for attempt in 0 .. 1:
    var n: csize_t
    var status: cint
    let r = zt_controller_request(c.h, meth.cstring, path.cstring, if body.len > 0: body.cstring else: nil,
                                  buf.cstring, buf.len.csize_t, addr n, addr status)
    if r == ZT_ERR_TOO_LARGE and meth == "GET" and attempt == 0 and n.int > buf.len:
      buf = newString(n.int)
      continue
    check r
    buf.setLen(max(n.int - 1, 0))
    return (status.int, buf)

proc requestOk*(c: Controller, meth, path: string, body = ""): string =
  ## `request` raising ZtError unless the HTTP status is 200.
  let (status, answer) = c.request(meth, path, body)
  if status != 200:
    raise (ref ZtError)(msg: meth & " " & path & ": HTTP " & $status & " " & answer,
                        code: ZT_ERR_INVALID_ARGUMENT.int)
  answer

proc authorize*(c: Controller, nwid: NetworkId, member: Address) =
  discard c.requestOk("POST", "/controller/network/" & $nwid & "/member/" & $member, """{"authorized":true}""")

# ---- Runtime --------------------------------------------------------------------------------------
type
  RuntimeObj = object
    h: ptr RuntimeC
  Runtime* = ref RuntimeObj  ## one event-loop thread hosting nodes

proc `=destroy`(r: var RuntimeObj) =
  if r.h != nil:
    zt_runtime_free(r.h)
    r.h = nil
proc `=copy`(a: var RuntimeObj, b: RuntimeObj) {.error.}

proc newRuntime*(): Runtime =
  result = Runtime()
  check zt_runtime_new(addr result.h)

# ---- Nodes ------------------------------------------------------------------------------------------
type
  EventKind* = enum
    evUp = 0, evOffline = 1, evOnline = 2, evDown = 3, evIdentityCollision = 4, evTrace = 5,
    evUserMessage = 6, evRemoteTrace = 7, evPeerDirect = 100
  Event* = object
    kind*: EventKind
    peer*: Address
    typeId*: uint64
    data*: string
    text*: string
    # evTrace (ABI 1.3, docs/TRACES.md): the structured record, copied; zero/"" otherwise, and
    # frame fields zero/"" when the trace is not about a frame, IP fields when it is not IP.
    hasTrace*: bool       ## the fields below are filled
    code*: int            ## PROTOCOL.md §15 code (2006 filter trace...) or ztcore's >= 9000; see `traceName`
    nwid*: NetworkId      ## 0: not about a network (`peer` is the remote node)
    srcMac*, dstMac*: Mac
    ethertype*, vlan*: uint16
    frameLen*: int        ## Ethernet payload length
    ipVersion*: int       ## 4, 6, or 0 (not IP)
    srcIp*, dstIp*: string
    ipProtocol*: int
    srcPort*, dstPort*: int
    inbound*: bool        ## received (else sent)
    rule*: int            ## index of the rule that decided (2006), -1 none
    action*: string       ## "DROP", "ACCEPT", "TEE", "REDIRECT"..., or ""
    capability*: Option[uint32]  ## the capability whose rule decided
    reason*: string       ## "rule 2 DROP", "not a bridge", ...
    frame*: string        ## the first <= 256 bytes of the Ethernet payload
  Frame* = object
    nwid*: NetworkId
    src*, dst*: Mac
    ethertype*, vlan*: uint16
    data*: string       ## payload after the Ethernet header (a copy)
  NetworkInfo* = object
    nwid*: NetworkId
    mac*: Mac
    name*: string
    ok*: bool           ## status is OK (configured and allowed)
    status*: string     ## "OK", "ACCESS_DENIED", "REQUESTING_CONFIGURATION", ...
    mtu*: int
    addresses*: seq[string]  ## "ip/bits"
  NodeStatus* = object
    address*: Address
    online*: bool
    port*: int
    publicIdentity*: string
  EventHandler* = proc (e: Event) {.closure, gcsafe.}
  FrameHandler* = proc (f: Frame) {.closure, gcsafe.}
  NetworkHandler* = proc (op: int, info: NetworkInfo) {.closure, gcsafe.}
  NodeOptions* = object
    home*: string          ## state directory; "" = in memory
    port*: uint16          ## UDP port; 0 = any free port
    bindTo*: string        ## "127.0.0.1,::1"; "" = all
    planet*: seq[byte]     ## planet world bytes (makePlanet)
    identity*: string      ## secret identity text; "" = load from home or generate
    allowLoopback*: bool
    join*: seq[NetworkId]
    controller*: Controller  ## serve this controller's networks
    stack*: bool           ## a userspace TCP/IP stack per joined network (for sockets)
    onEvent*: EventHandler
    onFrame*: FrameHandler
    onNetwork*: NetworkHandler
  HandlersObj = object
    onEvent: EventHandler
    onFrame: FrameHandler
    onNetwork: NetworkHandler
  Handlers = ref HandlersObj
  NodeObj = object
    h: ptr NodeC
    rt: Runtime
    ctl: Controller
    cb: Handlers
  Node* = ref NodeObj

proc toInfo(i: ptr NetworkInfoC): NetworkInfo =
  result = NetworkInfo(nwid: NetworkId(i.nwid), mac: Mac(i.mac), name: cstr(i.name), ok: i.status == ZT_NETWORK_OK,
                       status: $i.status_name, mtu: i.mtu.int)
  for k in 0 ..< min(i.address_count.int, 16):
    result.addresses.add cstr(i.addresses[k])

proc ip*(info: NetworkInfo, family = 4): string =
  ## The first assigned address of a family (4 or 6) without "/bits", or "".
  for a in info.addresses:
    if (':' in a) == (family == 6): return a.split('/')[0]

proc report(e: ref Exception) =
  try: stderr.writeLine "ztcore: exception in a callback: ", e.msg
  except IOError: discard

proc eventTramp(n: ptr NodeC, user: pointer, e: ptr EventC) {.cdecl, gcsafe.} =
  let h = cast[ptr HandlersObj](user)  # no reference counting on the loop thread
  {.push warning[HoleEnumConv]: off.}
  var ev = Event(kind: EventKind(e.`type`), peer: Address(e.peer), typeId: e.type_id)
  if e.data != nil and e.len > 0:
    ev.data = newString(e.len.int)
    copyMem(addr ev.data[0], e.data, e.len.int)
  {.pop.}
  if e.text != nil: ev.text = $e.text
  let t = e.trace
  ev.rule = -1
  if t != nil:
    ev.hasTrace = true
    ev.code = t.code.int
    ev.nwid = NetworkId(t.nwid)
    ev.srcMac = Mac(t.src_mac)
    ev.dstMac = Mac(t.dst_mac)
    ev.ethertype = t.ethertype
    ev.vlan = t.vlan
    ev.frameLen = t.frame_len.int
    ev.ipVersion = t.ip_version.int
    ev.srcIp = cstr(t.src_ip)
    ev.dstIp = cstr(t.dst_ip)
    ev.ipProtocol = t.ip_protocol.int
    ev.srcPort = t.src_port.int
    ev.dstPort = t.dst_port.int
    ev.inbound = t.inbound != 0
    ev.rule = t.rule.int
    if t.action != nil: ev.action = $t.action
    if t.has_capability != 0: ev.capability = some(t.capability)
    if t.reason != nil: ev.reason = $t.reason
    if t.frame != nil and t.frame_captured > 0:
      ev.frame = newString(t.frame_captured.int)
      copyMem(addr ev.frame[0], t.frame, t.frame_captured.int)
  try: h.onEvent(ev)
  except CatchableError as x: report(x)

proc frameTramp(n: ptr NodeC, user: pointer, f: ptr FrameC) {.cdecl, gcsafe.} =
  let h = cast[ptr HandlersObj](user)  # no reference counting on the loop thread
  var fr = Frame(nwid: NetworkId(f.nwid), src: Mac(f.src_mac), dst: Mac(f.dst_mac), ethertype: f.ethertype,
                 vlan: f.vlan)
  if f.data != nil and f.len > 0:
    fr.data = newString(f.len.int)
    copyMem(addr fr.data[0], f.data, f.len.int)
  try: h.onFrame(fr)
  except CatchableError as x: report(x)

proc networkTramp(n: ptr NodeC, user: pointer, op: cint, info: ptr NetworkInfoC) {.cdecl, gcsafe.} =
  let h = cast[ptr HandlersObj](user)  # no reference counting on the loop thread
  try: h.onNetwork(op.int, toInfo(info))
  except CatchableError as x: report(x)

proc close*(n: Node) =
  ## Stops and frees the node now (idempotent). No callback runs after this returns.
  if n.h != nil:
    zt_node_free(n.h)  # stops the node on the loop thread first
    n.h = nil
    if n.cb != nil:
      GC_unref(n.cb)
      n.cb = nil
    n.ctl = nil
    n.rt = nil

proc `=destroy`(n: var NodeObj) =
  if n.h != nil:
    zt_node_free(n.h)
    n.h = nil
  if n.cb != nil:
    GC_unref(n.cb)
  `=destroy`(n.cb)
  `=destroy`(n.ctl)
  `=destroy`(n.rt)
proc `=copy`(a: var NodeObj, b: NodeObj) {.error.}

proc newNode*(rt: Runtime, opts: NodeOptions): Node =
  ## Creates and starts a node (binds its UDP socket, loads or creates its identity).
  if rt == nil or rt.h == nil: raise (ref ZtError)(msg: "closed runtime", code: ZT_ERR_STATE.int)
  var o: NodeOptionsC
  zt_node_options_init(addr o)
  o.home = if opts.home.len > 0: opts.home.cstring else: nil
  o.port = opts.port
  o.`bind` = if opts.bindTo.len > 0: opts.bindTo.cstring else: nil
  if opts.planet.len > 0:
    o.planet = unsafeAddr opts.planet[0]
    o.planet_len = opts.planet.len.csize_t
  o.identity = if opts.identity.len > 0: opts.identity.cstring else: nil
  o.allow_loopback = cint(opts.allowLoopback)
  var join = newSeq[uint64]()
  for j in opts.join: join.add uint64(j)
  if join.len > 0:
    o.join = addr join[0]
    o.join_count = join.len.csize_t
  if opts.controller != nil: o.controller = opts.controller.h
  o.stack = cint(opts.stack)
  let h = Handlers(onEvent: opts.onEvent, onFrame: opts.onFrame, onNetwork: opts.onNetwork)
  o.user = cast[pointer](h)
  if h.onEvent != nil: o.on_event = eventTramp
  if h.onFrame != nil: o.on_frame = frameTramp
  if h.onNetwork != nil: o.on_network = networkTramp
  GC_ref(h)  # the C side holds it until close
  var n: ptr NodeC
  let r = zt_node_new(rt.h, addr o, addr n)
  if r != ZT_OK:
    GC_unref(h)
    raiseZt(r)
  Node(h: n, rt: rt, ctl: opts.controller, cb: h)

proc live(n: Node): ptr NodeC =
  if n == nil or n.h == nil: raise (ref ZtError)(msg: "closed node", code: ZT_ERR_STATE.int)
  n.h

proc address*(n: Node): Address = Address(zt_node_address(n.live))
proc status*(n: Node): NodeStatus =
  var s: NodeStatusC
  check zt_node_status_get(n.live, addr s)
  NodeStatus(address: Address(s.address), online: s.online != 0, port: s.port.int,
             publicIdentity: cstr(s.public_identity))
proc port*(n: Node): int = n.status.port
proc mac*(n: Node, nwid: NetworkId): Mac = macOf(n.address, nwid)
proc join*(n: Node, nwid: NetworkId) = check zt_node_join(n.live, uint64(nwid))
proc leave*(n: Node, nwid: NetworkId) = check zt_node_leave(n.live, uint64(nwid))
proc network*(n: Node, nwid: NetworkId): Option[NetworkInfo] =
  ## The joined network, or none.
  var info = create(NetworkInfoC)  # large: not on the stack
  try:
    let r = zt_node_network(n.live, uint64(nwid), info)
    if r == ZT_ERR_NOT_FOUND: return none(NetworkInfo)
    check r
    some(toInfo(info))
  finally:
    dealloc(info)

proc sendFrame*(n: Node, nwid: NetworkId, dst: Mac, ethertype: uint16, data: openArray[byte], vlan = 0'u16) =
  ## An Ethernet frame from this node's MAC on a joined network.
  check zt_node_send_frame(n.live, uint64(nwid), uint64(n.mac(nwid)), uint64(dst), ethertype, vlan,
                           if data.len > 0: unsafeAddr data[0] else: nil, data.len.csize_t)
proc sendFrame*(n: Node, nwid: NetworkId, dst: Mac, ethertype: uint16, data: string, vlan = 0'u16) =
  n.sendFrame(nwid, dst, ethertype, data.toOpenArrayByte(0, data.high), vlan)
proc traceName*(e: Event): string =
  ## The trace code's name ("NETWORK_FILTER_TRACE"...), "" without a trace, "UNKNOWN" for another code.
  if not e.hasTrace: return ""
  $zt_trace_code_name(uint32(e.code))

proc pcapStart*(n: Node, path: string) =
  ## Captures what the node sees into a pcapng file (created or truncated) until `pcapStop` or
  ## `close` (see zt_node_pcap_start). ZtError ZT_ERR_IO if the file cannot be created.
  check zt_node_pcap_start(n.live, path.cstring)
proc pcapStop*(n: Node) =
  ## Closes the capture (nothing without one); ZtError ZT_ERR_IO if a write failed meanwhile.
  check zt_node_pcap_stop(n.live)

proc explainJson*(n: Node, nwid: NetworkId, frame: openArray[byte], inbound = false,
                  peer = Address(0)): string =
  ## `explain`'s JSON text (one line).
  result = newString(4096)
  for attempt in 0 .. 3:
    var need: csize_t
    let r = zt_node_explain(n.live, uint64(nwid), if frame.len > 0: unsafeAddr frame[0] else: nil,
                            frame.len.csize_t, cint(inbound), uint64(peer), result.cstring, result.len.csize_t,
                            addr need)
    if r == ZT_ERR_TOO_LARGE and need.int > result.len and attempt < 3:  # the config may grow meanwhile
      result = newString(need.int)
      continue
    check r
    result.setLen(max(need.int - 1, 0))
    return
proc explainJson*(n: Node, nwid: NetworkId, frame: string, inbound = false, peer = Address(0)): string =
  n.explainJson(nwid, frame.toOpenArrayByte(0, frame.high), inbound, peer)

proc explain*(n: Node, nwid: NetworkId, frame: openArray[byte], inbound = false, peer = Address(0)): JsonNode =
  ## How the rules of joined network `nwid` decide `frame` (a whole Ethernet frame, header first)
  ## against this node's current config; nothing is sent. `inbound` false: this node sends it to
  ## `peer`; true: `peer` sent it here; Address(0) = the member whose MAC the frame carries.
  ## The result: {"verdict": "accept"|"drop"|"super-accept"|"redirect", "rule": N|null,
  ## "capability": ID|null, "reason": "...", "redirect_to": ..., "rules": [...]} (docs/RULES.md).
  ## ZtError: ZT_ERR_NOT_FOUND (not joined), ZT_ERR_STATE (no config yet), ZT_ERR_INVALID_ARGUMENT.
  parseJson(n.explainJson(nwid, frame, inbound, peer))
proc explain*(n: Node, nwid: NetworkId, frame: string, inbound = false, peer = Address(0)): JsonNode =
  parseJson(n.explainJson(nwid, frame, inbound, peer))

proc sendUserMessage*(n: Node, dest: Address, typeId: uint64, data: string) =
  check zt_node_send_user_message(n.live, uint64(dest), typeId, if data.len > 0: unsafeAddr data[0] else: nil,
                                  data.len.csize_t)

# ---- Sockets ------------------------------------------------------------------------------------------
type
  SocketObj = object
    h: ptr SocketC
    rt: Runtime
  ZtSocket* = ref SocketObj  ## TCP or UDP on a node's userspace IP stack (NodeOptions.stack)

proc close*(s: ZtSocket) =
  if s.h != nil:
    zt_socket_close(s.h)
    s.h = nil
    s.rt = nil
proc `=destroy`(s: var SocketObj) =
  if s.h != nil:
    zt_socket_close(s.h)
    s.h = nil
  `=destroy`(s.rt)
proc `=copy`(a: var SocketObj, b: SocketObj) {.error.}

proc live(s: ZtSocket): ptr SocketC =
  if s == nil or s.h == nil: raise (ref ZtError)(msg: "closed socket", code: ZT_ERR_STATE.int)
  s.h

proc newSocket(n: Node, typ: cint, ipv6: bool): ZtSocket =
  result = ZtSocket(rt: n.rt)
  check zt_socket_new(n.live, if ipv6: ZT_AF_INET6 else: ZT_AF_INET, typ, addr result.h)
proc newTcpSocket*(n: Node, ipv6 = false): ZtSocket = newSocket(n, ZT_SOCK_STREAM, ipv6)
proc newUdpSocket*(n: Node, ipv6 = false): ZtSocket = newSocket(n, ZT_SOCK_DGRAM, ipv6)

proc bindAddr*(s: ZtSocket, port: uint16, ip = "") =
  ## ip "": any address of the node's first network of the socket's family.
  check zt_socket_bind(s.live, ip.cstring, port)
proc listen*(s: ZtSocket, backlog = 16) = check zt_socket_listen(s.live, backlog.cint)
proc accept*(s: ZtSocket): tuple[conn: ZtSocket, ip: string, port: int] =
  var ip = newString(64)
  var port: uint16
  let c = ZtSocket(rt: s.rt)
  check zt_socket_accept(s.live, addr c.h, ip.cstring, ip.len.csize_t, addr port)
  (c, $ip.cstring, port.int)
proc connect*(s: ZtSocket, ip: string, port: uint16) = check zt_socket_connect(s.live, ip.cstring, port)
proc send*(s: ZtSocket, data: string): int =
  ## Bytes taken (may be fewer than data.len).
  var n: csize_t
  check zt_socket_send(s.live, if data.len > 0: unsafeAddr data[0] else: nil, data.len.csize_t, addr n)
  n.int
proc sendAll*(s: ZtSocket, data: string) =
  var off = 0
  while off < data.len: off += s.send(data[off .. ^1])
proc recv*(s: ZtSocket, maxLen = 65536): string =
  ## Up to maxLen bytes; "" means end of stream.
  result = newString(maxLen)
  var n: csize_t
  check zt_socket_recv(s.live, addr result[0], maxLen.csize_t, addr n)
  result.setLen(n.int)
proc sendTo*(s: ZtSocket, data, ip: string, port: uint16) =
  check zt_socket_sendto(s.live, if data.len > 0: unsafeAddr data[0] else: nil, data.len.csize_t, ip.cstring, port)
proc recvFrom*(s: ZtSocket, maxLen = 65536): tuple[data, ip: string, port: int] =
  var buf = newString(maxLen)
  var ip = newString(64)
  var n: csize_t
  var port: uint16
  check zt_socket_recvfrom(s.live, addr buf[0], maxLen.csize_t, addr n, ip.cstring, ip.len.csize_t, addr port)
  buf.setLen(n.int)
  (buf, $ip.cstring, port.int)
proc shutdown*(s: ZtSocket, how = ZT_SHUT_WR) = check zt_socket_shutdown(s.live, how)
proc setTimeout*(s: ZtSocket, ms: int) =
  ## -1 blocks forever (default), 0 non-blocking (ZT_ERR_AGAIN), > 0 bounds each call (ZT_ERR_TIMEOUT).
  check zt_socket_set_timeout(s.live, ms.int64)
proc localAddress*(s: ZtSocket): tuple[ip: string, port: int] =
  var ip = newString(64)
  var port: uint16
  check zt_socket_local_address(s.live, ip.cstring, ip.len.csize_t, addr port)
  ($ip.cstring, port.int)
