/*
 * ztcore — embeddable ZeroTier-compatible nodes. The one stable C ABI.
 *
 * Model
 *   A zt_runtime is one event-loop thread that owns sockets and timers. It hosts any number
 *   of zt_node, each a full ZeroTier node with its own identity and UDP port. Nodes in one
 *   runtime (or in several) talk the real ZeroTier protocol to each other and to stock
 *   ZeroTier nodes.
 *
 * Threading
 *   Every function may be called from any thread, except from inside an event callback
 *   (callbacks run on the runtime thread; calling back into the same runtime from there
 *   would deadlock and is refused with ZT_ERR_STATE). Functions that query or command a node
 *   run on the runtime thread and wait for it, typically microseconds.
 *
 * Ownership and errors
 *   Handles are created by *_new and released by *_free (free of NULL is a no-op). Output
 *   buffers are caller-owned. Every fallible call returns a zt_result; on failure
 *   zt_last_error() returns a human-readable message for the calling thread (valid until the
 *   next ztcore call on that thread). Nothing aborts on bad input.
 *
 * Versioning
 *   Option structs start with `struct_size`; set it with the matching *_init() function so
 *   that older callers keep working when fields are appended. ZTCORE_ABI_VERSION changes
 *   only on incompatible changes.
 */
#ifndef ZTCORE_H
#define ZTCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ZT_API __attribute__((visibility("default")))
#else
#define ZT_API
#endif

/* ABI 1.1 appended networks, frames, wire tap, controller, worlds; 1.2 the IP stack and sockets;
 * 1.3 packet capture (zt_node_pcap_start/stop), rules explain (zt_node_explain) and structured
 * traces (zt_trace, zt_event.trace); 1.4 zt_trace_code_name */
#define ZTCORE_ABI_VERSION 1

typedef enum zt_result {
  ZT_OK = 0,
  ZT_ERR_INVALID_ARGUMENT = -1, /* bad parameter or malformed input */
  ZT_ERR_NOT_FOUND = -2,        /* no such peer / network / object */
  ZT_ERR_IO = -3,               /* socket or file error (bind failed, unreadable file...) */
  ZT_ERR_STATE = -4,            /* not allowed now (node stopped, called from a callback...) */
  ZT_ERR_TOO_LARGE = -5,        /* payload or output does not fit */
  ZT_ERR_INTERNAL = -6,         /* bug; please report with zt_last_error() */
  /* ---- appended in ABI 1.2 (sockets) ---- */
  ZT_ERR_AGAIN = -7,            /* non-blocking call would block / nothing done yet */
  ZT_ERR_CONN_REFUSED = -8,     /* RST on connect */
  ZT_ERR_CONN_RESET = -9,       /* connection reset / aborted by peer */
  ZT_ERR_NOT_CONNECTED = -10,   /* send/recv on an unconnected stream socket, or after shutdown */
  ZT_ERR_ADDR_IN_USE = -11,     /* bind to a taken port */
  ZT_ERR_TIMEOUT = -12,         /* a blocking call's timeout expired (zt_socket_set_timeout) */
  ZT_ERR_UNREACHABLE = -13      /* no route / no stack address of that family on any joined network */
} zt_result;

typedef struct zt_runtime zt_runtime;
typedef struct zt_node zt_node;

/* ---- Events ----------------------------------------------------------------------------- */
typedef enum zt_event_type {
  ZT_EVENT_UP = 0,
  ZT_EVENT_OFFLINE = 1,
  ZT_EVENT_ONLINE = 2,
  ZT_EVENT_DOWN = 3,
  ZT_EVENT_IDENTITY_COLLISION = 4,
  ZT_EVENT_TRACE = 5,        /* text: why a packet was dropped or something changed; trace (1.3) */
  ZT_EVENT_USER_MESSAGE = 6, /* peer, type_id, data/len */
  ZT_EVENT_REMOTE_TRACE = 7, /* peer, data/len (a dictionary) */
  ZT_EVENT_PEER_DIRECT = 100 /* peer now has a direct path */
} zt_event_type;

/* ---- appended in ABI 1.3: the structured record of a TRACE event (docs/TRACES.md) ----
 * Codes are PROTOCOL.md §15's (1004 packet MAC failure, 1005 invalid packet / dropped HELLO,
 * 2000 outgoing frame dropped, 2001 access denied, 2002 incoming frame dropped, 2003 credential
 * rejected, 2006 filter trace) and ztcore's own >= 9000 (9000 joined, 9001 left, 9002 config
 * applied, 9003 config rejected, 9004 network status, 9005 credential accepted, 9006 send
 * failed, 9007 world updated, 9008 controller queue full: a config request dropped). Frame fields are 0/"" when the trace is not about a frame, IP
 * fields when the frame is not IPv4/IPv6. Everything is valid only during the callback. */
typedef struct zt_trace {
  uint32_t code;
  uint64_t nwid;          /* network, or 0 */
  uint64_t peer;          /* remote ZeroTier address, or 0 */
  uint64_t src_mac;       /* MACs as in zt_frame */
  uint64_t dst_mac;
  uint16_t ethertype;
  uint16_t vlan;
  uint32_t frame_len;     /* Ethernet payload length */
  int ip_version;         /* 4 or 6; 0 = not IP */
  char src_ip[46];        /* IP addresses as text ("10.0.0.1", "fd00::1"), "" when not IP */
  char dst_ip[46];
  uint8_t ip_protocol;    /* final IP protocol (after IPv6 extension headers) */
  uint16_t src_port;      /* TCP/UDP/SCTP ports, else 0 */
  uint16_t dst_port;
  int inbound;            /* 1 received, 0 sent */
  int rule;               /* index of the rule that decided (2006), -1 none */
  const char* action;     /* "DROP", "ACCEPT", "TEE", "REDIRECT"..., or "" */
  int has_capability;     /* 1: `capability` is the capability whose rule decided */
  uint32_t capability;
  const char* reason;     /* "rule 2 DROP", "not a bridge", "multicast disabled", ... */
  const uint8_t* frame;   /* the first <= 256 bytes of the Ethernet payload */
  size_t frame_captured;  /* bytes at `frame` */
} zt_trace;

/* The name of a trace code ("NETWORK_FILTER_TRACE" for 2006...), "UNKNOWN" for a code this
 * library does not know. A static string; every binding asks here instead of keeping a table. */
ZT_API const char* zt_trace_code_name(uint32_t code);

typedef struct zt_event {
  int type;            /* zt_event_type */
  uint64_t peer;       /* ZeroTier address, or 0 */
  uint64_t type_id;    /* USER_MESSAGE type */
  const uint8_t* data; /* payload, valid only during the callback */
  size_t len;
  const char* text;    /* NUL-terminated, valid only during the callback */
  /* ---- appended in ABI 1.3 (the library fills zt_event; older callers ignore this) ---- */
  const zt_trace* trace; /* ZT_EVENT_TRACE only, else NULL */
} zt_event;

/* Called on the runtime thread. Must not block and must not call ztcore functions for the
 * same runtime. */
typedef void (*zt_event_cb)(zt_node* node, void* user, const zt_event* event);

/* ---- Virtual networks: types used by callbacks ---------------------------------------------
 * MACs are the 48-bit value in the low bits of a uint64_t (02:11:22:33:44:55 = 0x021122334455).
 * Network ids are 64-bit, node addresses 40-bit. */
typedef struct zt_controller zt_controller;

typedef enum zt_network_status {
  ZT_NETWORK_REQUESTING_CONFIGURATION = 0,
  ZT_NETWORK_OK = 1,
  ZT_NETWORK_ACCESS_DENIED = 2,
  ZT_NETWORK_NOT_FOUND = 3,
  ZT_NETWORK_PORT_ERROR = 4,
  ZT_NETWORK_CLIENT_TOO_OLD = 5,
  ZT_NETWORK_AUTHENTICATION_REQUIRED = 6
} zt_network_status;

typedef enum zt_network_op {
  ZT_NETWORK_OP_UP = 1,
  ZT_NETWORK_OP_CONFIG_UPDATE = 2, /* new config, or a status change */
  ZT_NETWORK_OP_DOWN = 3,
  ZT_NETWORK_OP_DESTROY = 4
} zt_network_op;

#define ZT_MAX_NETWORK_ADDRESSES 16
#define ZT_MAX_NETWORK_ROUTES 32
#define ZT_MAX_NETWORK_SUBSCRIPTIONS 64

typedef struct zt_route {
  char target[64]; /* "10.147.20.0/24" */
  char via[64];    /* gateway "ip", or "" for a route on the network itself */
  uint16_t flags;
  uint16_t metric;
} zt_route;

typedef struct zt_multicast_group {
  uint64_t mac; /* multicast MAC */
  uint32_t adi; /* additional distinguishing information (IPv4 address for ARP groups) */
} zt_multicast_group;

typedef struct zt_network_info {
  uint64_t nwid;
  uint64_t mac;              /* this node's MAC on the network (PROTOCOL.md §4.2) */
  char name[128];            /* NUL-terminated, possibly truncated */
  int status;                /* zt_network_status */
  const char* status_name;   /* "OK", "ACCESS_DENIED", ... (static string) */
  int has_config;
  int is_public;
  unsigned mtu;
  int broadcast;             /* broadcast enabled */
  unsigned multicast_limit;
  uint64_t revision;
  unsigned address_count;    /* entries in `addresses` (the total may be larger) */
  char addresses[ZT_MAX_NETWORK_ADDRESSES][64]; /* assigned, "ip/bits" */
  unsigned route_count;
  zt_route routes[ZT_MAX_NETWORK_ROUTES];
  unsigned subscription_count;
  zt_multicast_group subscriptions[ZT_MAX_NETWORK_SUBSCRIPTIONS];
} zt_network_info;

typedef struct zt_frame {
  uint64_t nwid;
  uint64_t src_mac;
  uint64_t dst_mac;
  uint16_t ethertype;
  uint16_t vlan;
  const uint8_t* data; /* payload after the 14-byte Ethernet header; valid only during the callback */
  size_t len;
} zt_frame;

typedef enum zt_wire_direction { ZT_WIRE_RECEIVED = 0, ZT_WIRE_SENT = 1 } zt_wire_direction;

typedef struct zt_wire {
  int direction;       /* zt_wire_direction */
  char remote[64];     /* the other end, "ip/port" */
  int64_t time_ms;     /* runtime clock (Unix epoch ms) */
  const uint8_t* data; /* the whole UDP payload; valid only during the callback */
  size_t len;
} zt_wire;

/* All callbacks run on the runtime thread, must not block and must not call ztcore functions
 * for the same runtime (copy what you need and hand it to another thread). */
typedef void (*zt_frame_cb)(zt_node* node, void* user, const zt_frame* frame);
typedef void (*zt_network_cb)(zt_node* node, void* user, int op, const zt_network_info* info);
typedef void (*zt_wire_cb)(zt_node* node, void* user, const zt_wire* wire);

/* ---- Runtime ------------------------------------------------------------------------------ */
ZT_API const char* zt_version(void); /* the library version, "MAJOR.MINOR.PATCH" (e.g. "0.1.0") */
ZT_API const char* zt_last_error(void);
ZT_API zt_result zt_runtime_new(zt_runtime** out);
/* Stops every node of the runtime (state kept), then the thread. Node handles of this runtime
 * must still be freed with zt_node_free (which is then cheap) and not used otherwise. */
ZT_API void zt_runtime_free(zt_runtime* rt);

/* ---- Nodes -------------------------------------------------------------------------------- */
typedef struct zt_node_options {
  uint32_t struct_size;
  const char* home;            /* state directory (created 0700); NULL = in memory */
  uint16_t port;               /* UDP port; 0 = any free port */
  const char* bind;            /* comma-separated IPs to bind, e.g. "127.0.0.1,::1"; NULL = all */
  const uint8_t* planet;       /* planet world bytes (see `ztcore world make`), or NULL */
  size_t planet_len;
  const char* planet_file;     /* or a planet file path; NULL = use home/planet if any */
  const char* identity;        /* secret identity text; NULL = load from home or generate */
  int allow_loopback;          /* nonzero: use 127.0.0.0/8 and ::1 paths (stock nodes refuse) */
  int64_t online_timeout_ms;   /* 0 = default (30000) */
  zt_event_cb on_event;        /* may be NULL */
  void* user;                  /* passed to every callback */
  /* ---- appended in ABI 1.1 (struct_size tells which fields a caller knows) ---- */
  zt_frame_cb on_frame;        /* Ethernet frames from joined networks; may be NULL */
  zt_network_cb on_network;    /* network up / config or status change / down; may be NULL */
  zt_wire_cb on_wire;          /* every UDP datagram sent or received; may be NULL (costs a copy) */
  const uint64_t* join;        /* networks to join at start */
  size_t join_count;
  zt_controller* controller;   /* act as this controller (see zt_controller_new); not owned,
                                  must outlive the node; its networks are <node address>xxxxxx */
  /* ---- appended in ABI 1.2 ---- */
  int stack;                   /* nonzero: a userspace TCP/IP stack (lwIP) on every joined network
                                  of this node; see "Sockets" below */
} zt_node_options;

ZT_API void zt_node_options_init(zt_node_options* o);
/* Creates and starts a node (binds its sockets, loads or creates its identity). */
ZT_API zt_result zt_node_new(zt_runtime* rt, const zt_node_options* opts, zt_node** out);
/* Stops the node (closes sockets; state stays in its home) and frees the handle. */
ZT_API void zt_node_free(zt_node* node);

typedef struct zt_node_status {
  uint64_t address;
  int online;
  uint16_t port;
  uint64_t planet_id;
  uint64_t planet_timestamp;
  char public_identity[160]; /* text form, NUL-terminated */
} zt_node_status;
ZT_API zt_result zt_node_status_get(zt_node* node, zt_node_status* out);
ZT_API uint64_t zt_node_address(const zt_node* node);

typedef enum zt_peer_role { ZT_PEER_LEAF = 0, ZT_PEER_MOON = 1, ZT_PEER_PLANET = 2 } zt_peer_role;

#define ZT_MAX_PEER_PATHS 8
typedef struct zt_path {
  char address[64];    /* "ip/port" */
  int64_t last_send;   /* ms, runtime clock (Unix epoch) */
  int64_t last_receive;
  int alive;
  int preferred;
} zt_path;

typedef struct zt_peer {
  uint64_t address;
  int role;            /* zt_peer_role */
  int latency_ms;      /* -1 unknown */
  int version_major, version_minor, version_revision; /* -1 unknown */
  int protocol_version;
  int direct;          /* has an alive direct path (else traffic is relayed by a root) */
  unsigned path_count; /* paths in `paths` (at most ZT_MAX_PEER_PATHS) */
  zt_path paths[ZT_MAX_PEER_PATHS];
} zt_peer;

/* Fills up to `cap` peers; *count receives the total number (may exceed cap). */
ZT_API zt_result zt_node_peers(zt_node* node, zt_peer* out, size_t cap, size_t* count);

ZT_API zt_result zt_node_orbit(zt_node* node, uint64_t moon_id, uint64_t seed);
ZT_API zt_result zt_node_deorbit(zt_node* node, uint64_t moon_id);

/* Sends a USER_MESSAGE (no delivery guarantee, like UDP). */
ZT_API zt_result zt_node_send_user_message(zt_node* node, uint64_t dest, uint64_t type_id,
                                           const void* data, size_t len);
/* Sends an ECHO; the reply updates the peer's latency. */
ZT_API zt_result zt_node_ping(zt_node* node, uint64_t dest);

/* ---- Virtual networks ---------------------------------------------------------------------- */
ZT_API zt_result zt_node_join(zt_node* node, uint64_t nwid);
ZT_API zt_result zt_node_leave(zt_node* node, uint64_t nwid); /* ZT_ERR_NOT_FOUND if not joined */
/* Fills up to `cap` joined networks; *count receives the total. */
ZT_API zt_result zt_node_networks(zt_node* node, zt_network_info* out, size_t cap, size_t* count);
ZT_API zt_result zt_node_network(zt_node* node, uint64_t nwid, zt_network_info* out); /* NOT_FOUND */
/* Sends an Ethernet frame (payload without the 14-byte header) on a joined network. Unicast,
 * broadcast (ff:ff:ff:ff:ff:ff) and multicast destinations. A source MAC other than the node's
 * own is only sent by an allowed bridge; otherwise the frame is dropped with a TRACE event that
 * says why, and ZT_OK is still returned (like a NIC, sending is fire-and-forget). Errors:
 * not joined (NOT_FOUND), payload larger than the network MTU (TOO_LARGE; before the network has
 * a config its MTU is unknown and only payloads over 10000 bytes are refused — the frame is then
 * dropped with a TRACE), MACs above 48 bits (INVALID_ARGUMENT). */
ZT_API zt_result zt_node_send_frame(zt_node* node, uint64_t nwid, uint64_t src_mac, uint64_t dst_mac,
                                    uint16_t ethertype, uint16_t vlan, const void* data, size_t len);
ZT_API zt_result zt_node_multicast_subscribe(zt_node* node, uint64_t nwid, uint64_t mac, uint32_t adi);
ZT_API zt_result zt_node_multicast_unsubscribe(zt_node* node, uint64_t nwid, uint64_t mac, uint32_t adi);
/* The MAC a node with `address` has on network `nwid` (pure function, PROTOCOL.md §4.2). */
ZT_API uint64_t zt_network_mac(uint64_t address, uint64_t nwid);

/* ---- Network controller --------------------------------------------------------------------
 * An embedded controller: give it to a node with zt_node_options.controller and that node
 * serves the networks whose id starts with its address. Managed through the same requests as
 * zerotier-one's controller HTTP API (paths and JSON shapes; see docs/CLI.md), without HTTP. */
/* db_path: SQLite file (created if missing), a PostgreSQL URL "postgresql://..." (shared by
   several controllers, see docs/ARCHITECTURE.md), or NULL to keep everything in memory. */
ZT_API zt_result zt_controller_new(const char* db_path, zt_controller** out);
/* Free only after every node using it was freed. */
ZT_API void zt_controller_free(zt_controller* c);
/* method "GET" | "POST" | "PUT" | "DELETE"; path e.g. "/controller/network/<nwid>/member/<addr>";
 * body JSON text or NULL. Writes the JSON response (NUL-terminated) into out and the HTTP status
 * (200, 400, 404, ...) into *http_status; returns ZT_OK whenever a response was produced (check
 * the status), ZT_ERR_TOO_LARGE if out is too small (*out_len then holds the needed size
 * including the NUL). Pushes to online members (new config, revocation) happen right away. */
/* Details: out_len and http_status are required; out may be NULL when cap is 0. *out_len is
 * set whenever a response was produced (its size including the NUL). On ZT_ERR_TOO_LARGE the
 * request WAS carried out and *http_status is set: do not repeat a write just to get a bigger
 * answer (a repeated POST .../<address>______ creates another network); read it back with GET.
 * The pushes are made on the controller thread of the node serving this controller and sent
 * from its loop thread; from one of that runtime's callbacks this returns ZT_ERR_STATE. A controller serves one node at a time
 * (zt_node_new with a controller already in use: ZT_ERR_STATE). Without a node (never attached,
 * or its node was freed) it still answers; creating a network needs the node's address, so
 * POST /controller/network[/<address>______] is 503 then, while POST /controller/network/<nwid>
 * with an explicit id works. */
ZT_API zt_result zt_controller_request(zt_controller* c, const char* method, const char* path,
                                       const char* body, char* out, size_t cap, size_t* out_len,
                                       int* http_status);

/* ---- Worlds ---------------------------------------------------------------------------------- */
/* Makes a signed planet with one root: `root_identity` (its secret text form; it also signs the
 * world) reachable at `endpoints` ("127.0.0.1/9993,::1/9993"). Writes the world bytes into out;
 * *len receives their size (also when out is too small: ZT_ERR_TOO_LARGE). */
ZT_API zt_result zt_planet_make(uint64_t id, uint64_t timestamp_ms, const char* root_identity,
                                const char* endpoints, uint8_t* out, size_t cap, size_t* len);

typedef struct zt_counters {
  uint64_t datagrams_in, datagrams_out, packets_in, relayed;
  uint64_t dropped_malformed, dropped_auth, dropped_unknown_peer, dropped_policy;
  uint64_t whois_sent;
} zt_counters;
ZT_API zt_result zt_node_counters(zt_node* node, zt_counters* out);

/* ---- Packet capture (ABI 1.3) ---------------------------------------------------------------
 * Writes what the node sees into a pcapng file (created or truncated, mode 0644), until
 * zt_node_pcap_stop or zt_node_free: an interface "udp" (LINKTYPE_RAW) with every UDP datagram
 * sent or received, its IPv4/IPv6 and UDP headers synthesized from the real local and remote
 * addresses and ports (Wireshark's ZeroTier dissector on UDP 9993 and Scapy decode them), and
 * one interface "zt-<nwid>" (LINKTYPE_ETHERNET) per joined network with the decrypted frames
 * delivered to the host (also those an IP stack consumed) and sent by it, each commented with
 * its direction and verdict ("in from 89e92cee01 accepted", "out to broadcast sent",
 * "out to 89e92cee01 dropped: <why>"). Timestamps in microseconds. Starting again replaces the
 * running capture (the old file is closed). Errors: a file that cannot be created → ZT_ERR_IO
 * (nothing is captured), NULL or "" path → ZT_ERR_INVALID_ARGUMENT. zt_node_pcap_stop closes
 * the file (ZT_OK without a capture) and returns ZT_ERR_IO if a write failed meanwhile (the
 * capture stops at the first failed write). */
ZT_API zt_result zt_node_pcap_start(zt_node* node, const char* path);
ZT_API zt_result zt_node_pcap_stop(zt_node* node);

/* ---- Identities ---------------------------------------------------------------------------- */
/* Generates a new identity; writes its secret text form (NUL-terminated) into buf. */
ZT_API zt_result zt_identity_generate(char* buf, size_t cap);
/* Validates an identity text (public or secret form); writes its address to *address. */
ZT_API zt_result zt_identity_validate(const char* text, uint64_t* address);

/* ---- Sockets (ABI 1.2) ---------------------------------------------------------------------
 * A node created with zt_node_options.stack != 0 runs a userspace TCP/IP stack (lwIP) on each
 * joined network: it takes the network's assigned addresses, default route and MTU from the
 * controller's config (following changes), answers ARP, NDP and ping on its own, and frames it
 * does not consume (not ARP/IP for its addresses) still reach on_frame. Its sockets:
 *
 * Threading: socket functions may be called from any thread except the runtime thread; a
 *   blocking call (timeout != 0) from a callback returns ZT_ERR_STATE. One thread per direction
 *   per socket, like BSD sockets; do not close a socket while another thread is inside a call
 *   on it.
 * Blocking: sockets block by default (-1). zt_socket_set_timeout(s, 0) makes them non-blocking
 *   (ZT_ERR_AGAIN; a non-blocking connect returns ZT_ERR_AGAIN and completes in the background:
 *   wait for ZT_POLLOUT), a positive value bounds every blocking call (ZT_ERR_TIMEOUT).
 * Readiness: zt_socket_fd() is an eventfd owned by the socket, readable whenever readiness may
 *   have changed (data, connection, accept, close, error, send space). It stays readable until
 *   zt_socket_poll() clears it (recv/recvfrom/accept clear it too and re-arm it while more data
 *   waits). Use epoll/select on it, then zt_socket_poll and non-blocking calls; never read() it
 *   yourself (it is written once per readiness edge and re-armed only by those calls).
 * Addresses: plain IP text ("10.147.17.5", "fd00::1"); NULL or "" in bind = any address of
 *   the node's first network with that family (bind to an address to pick another network).
 *   connect/sendto pick the node's network whose subnet (or route) holds the destination.
 * Ownership: zt_socket_close frees. zt_node_free closes every socket of the node; later calls
 *   on them return ZT_ERR_STATE and zt_socket_close still frees them. */
typedef struct zt_socket zt_socket;
#define ZT_AF_INET 4
#define ZT_AF_INET6 6
#define ZT_SOCK_STREAM 1
#define ZT_SOCK_DGRAM 2
#define ZT_SHUT_RD 0
#define ZT_SHUT_WR 1
#define ZT_SHUT_RDWR 2
#define ZT_POLLIN 1
#define ZT_POLLOUT 4
#define ZT_POLLERR 8
#define ZT_POLLHUP 16

/* ZT_ERR_STATE if the node has no stack. */
ZT_API zt_result zt_socket_new(zt_node* node, int family, int type, zt_socket** out);
ZT_API zt_result zt_socket_bind(zt_socket* s, const char* ip /* NULL or "" = any */, uint16_t port);
ZT_API zt_result zt_socket_listen(zt_socket* s, int backlog);
/* peer_ip: caller buffer (>= 46 bytes), may be NULL; peer_port may be NULL */
ZT_API zt_result zt_socket_accept(zt_socket* s, zt_socket** out, char* peer_ip, size_t ip_cap,
                                  uint16_t* peer_port);
ZT_API zt_result zt_socket_connect(zt_socket* s, const char* ip, uint16_t port);
/* *sent may be < len (partial write); 0-length send is allowed */
ZT_API zt_result zt_socket_send(zt_socket* s, const void* data, size_t len, size_t* sent);
/* *received == 0 with ZT_OK means end of stream (peer closed) */
ZT_API zt_result zt_socket_recv(zt_socket* s, void* buf, size_t cap, size_t* received);
ZT_API zt_result zt_socket_sendto(zt_socket* s, const void* data, size_t len, const char* ip, uint16_t port);
ZT_API zt_result zt_socket_recvfrom(zt_socket* s, void* buf, size_t cap, size_t* received, char* ip,
                                    size_t ip_cap, uint16_t* port);
ZT_API zt_result zt_socket_shutdown(zt_socket* s, int how); /* ZT_SHUT_* */
/* -1 blocks forever (default), 0 non-blocking, > 0 bounds each blocking call (ms). */
ZT_API zt_result zt_socket_set_timeout(zt_socket* s, int64_t ms);
ZT_API zt_result zt_socket_local_address(zt_socket* s, char* ip, size_t ip_cap, uint16_t* port);
ZT_API zt_result zt_socket_peer_address(zt_socket* s, char* ip, size_t ip_cap, uint16_t* port);
/* Current readiness (ZT_POLLIN|ZT_POLLOUT|ZT_POLLERR|ZT_POLLHUP); never blocks; clears the fd. */
ZT_API zt_result zt_socket_poll(zt_socket* s, int* revents);
/* The socket's eventfd (see Readiness above); -1 for NULL. Owned by the socket. */
ZT_API int zt_socket_fd(zt_socket* s);
/* Closes and frees. Safe after the node was freed (then only memory is released). */
ZT_API void zt_socket_close(zt_socket* s);

/* ---- Rules explain (ABI 1.3) -------------------------------------------------------------
 * Explains how the rules of joined network `nwid` decide an Ethernet frame, against the node's
 * CURRENT config and what it holds of the peer's credentials (tags, capabilities). Nothing is
 * sent and nothing changes. `frame` is a whole Ethernet frame (14-byte header first, VLAN tags
 * skipped). inbound = 0: this node sends it to `peer`; nonzero: `peer` sent it to this node.
 * peer 0 = the member whose MAC the frame carries (destination MAC outbound, source MAC
 * inbound; none for multicast/broadcast). MATCH_RANDOM is evaluated with draw 0 (matches).
 * Writes one line of JSON (NUL-terminated) into json_out:
 *   {"verdict": "accept"|"drop"|"super-accept"|"redirect", "rule": N|null,
 *    "capability": ID|null, "reason": "...", "redirect_to": "hex10"|null,
 *    "rules": [{"capability": null|ID, "index", "text", "type", "action", "reached",
 *               "evaluated", "match": bool|null, "state": bool|null, "decided", "detail"}, ...]}
 * the same shape as `ztcore rules explain --json` (docs/RULES.md). out_len is required and
 * receives the size including the NUL; json_out may be NULL when cap is 0; ZT_ERR_TOO_LARGE if
 * cap is smaller (call again with *out_len bytes). Errors: NOT_FOUND (not joined), STATE (no
 * config yet, or called from a callback), INVALID_ARGUMENT (frame shorter than its header,
 * peer = this node), TOO_LARGE (frame above the largest MTU). Runs on the runtime thread. */
ZT_API zt_result zt_node_explain(zt_node* node, uint64_t nwid, const uint8_t* frame, size_t len, int inbound,
                                 uint64_t peer, char* json_out, size_t cap, size_t* out_len);

#ifdef __cplusplus
}
#endif
#endif /* ZTCORE_H */
