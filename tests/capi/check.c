/* Compiled as C99: proves the public header is plain C and that a C program can run nodes.
 * Two in-memory nodes on 127.0.0.1 (no planet): both start, report an address and a port,
 * and reject bad input with an error message instead of crashing. ABI 1.1 from C: MACs
 * (PROTOCOL.md §4.2 worked example), join/leave bookkeeping, an in-memory controller answering
 * management requests, and planet making with the buffer-size protocol. ABI 1.3: a TRACE event
 * carries its zt_trace record. */
#include <stdio.h>
#include <string.h>

#include "ztcore/ztcore.h"

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAILED: %s (last error: %s)\n", #cond, zt_last_error()); \
      return 1;                                                            \
    }                                                                      \
  } while (0)

/* ABI 1.3: the structured trace of "joined network" (code 9000), seen from C. */
static int joined_traces = 0;
static uint64_t joined_nwid = 0;
static void on_event(zt_node* node, void* user, const zt_event* e) {
  (void)node;
  (void)user;
  if (e->type == ZT_EVENT_TRACE && e->trace && e->trace->code == 9000 && e->trace->reason &&
      e->trace->action && e->trace->rule == -1 && e->trace->ip_version == 0 && e->trace->src_ip[0] == 0) {
    ++joined_traces;
    joined_nwid = e->trace->nwid;
  }
}

int main(void) {
  zt_runtime* rt = NULL;
  zt_node *a = NULL, *b = NULL;
  zt_node_options o;
  zt_node_status st;
  zt_peer peers[4];
  size_t n = 99;
  uint64_t addr = 0;
  char secret[300];

  CHECK(strcmp(zt_version(), ZTCORE_EXPECTED_VERSION) == 0); /* CMake project(VERSION) */
  CHECK(zt_runtime_new(&rt) == ZT_OK);
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.allow_loopback = 1;
  CHECK(zt_identity_generate(secret, sizeof secret) == ZT_OK);
  CHECK(zt_identity_validate(secret, &addr) == ZT_OK && addr != 0);
  o.identity = secret;
  CHECK(zt_node_new(rt, &o, &a) == ZT_OK);
  CHECK(zt_node_address(a) == addr);
  o.identity = NULL;
  CHECK(zt_node_new(rt, &o, &b) == ZT_OK);
  CHECK(zt_node_status_get(a, &st) == ZT_OK);
  CHECK(st.address == addr && st.port != 0 && st.online == 0);
  CHECK(strncmp(st.public_identity, secret, 10) == 0);
  CHECK(zt_node_peers(a, peers, 4, &n) == ZT_OK && n == 0);

  /* Bad input: errors with messages, never crashes. */
  CHECK(zt_identity_validate("not an identity", &addr) == ZT_ERR_INVALID_ARGUMENT);
  CHECK(strlen(zt_last_error()) > 0);
  CHECK(zt_node_send_user_message(a, 0, 1, "x", 1) == ZT_ERR_INVALID_ARGUMENT);
  CHECK(zt_node_new(rt, NULL, &b) == ZT_ERR_INVALID_ARGUMENT);
  o.struct_size = 4;
  CHECK(zt_node_new(rt, &o, &b) == ZT_ERR_INVALID_ARGUMENT);
  zt_node_options_init(&o);
  o.bind = "not-an-ip";
  CHECK(zt_node_new(rt, &o, &b) == ZT_ERR_INVALID_ARGUMENT);

  /* ---- ABI 1.1 ---- */
  /* §4.2 worked example: node 8fec3e8ae4 on network d5a72ff358c0ffee is ee:70:2c:66:79:cb. */
  CHECK(zt_network_mac(0x8fec3e8ae4ULL, 0xd5a72ff358c0ffeeULL) == 0xee702c6679cbULL);
  {
    static zt_network_info info; /* about 6.5 KB: not on the stack */
    const uint64_t nwid = 0xd5a72ff358c0ffeeULL;
    CHECK(zt_node_network(a, nwid, &info) == ZT_ERR_NOT_FOUND);
    CHECK(zt_node_leave(a, nwid) == ZT_ERR_NOT_FOUND);
    CHECK(zt_node_join(a, 0) == ZT_ERR_INVALID_ARGUMENT);
    CHECK(zt_node_join(a, nwid) == ZT_OK);
    CHECK(zt_node_networks(a, &info, 1, &n) == ZT_OK && n == 1);
    CHECK(info.nwid == nwid && info.mac == zt_network_mac(addr, nwid) && info.has_config == 0);
    CHECK(info.status == ZT_NETWORK_REQUESTING_CONFIGURATION && strcmp(info.status_name, "REQUESTING_CONFIGURATION") == 0);
    CHECK(zt_node_send_frame(a, nwid, info.mac, 0xffffffffffffULL, 0x88b5, 0, "x", 1) == ZT_OK);
    CHECK(zt_node_send_frame(a, 0x1122334455667788ULL, info.mac, 0xffffffffffffULL, 0x88b5, 0, "x", 1) == ZT_ERR_NOT_FOUND);
    CHECK(zt_node_leave(a, nwid) == ZT_OK);
    CHECK(zt_node_networks(a, NULL, 0, &n) == ZT_OK && n == 0);
  }
  {
    zt_controller* c = NULL;
    char resp[4096];
    size_t rl = 0;
    int status = 0;
    CHECK(zt_controller_new(NULL, &c) == ZT_OK && c != NULL);
    CHECK(zt_controller_request(c, "GET", "/controller", NULL, resp, sizeof resp, &rl, &status) == ZT_OK);
    CHECK(status == 200 && strstr(resp, "\"controller\"") != NULL && rl == strlen(resp) + 1);
    CHECK(zt_controller_request(c, "POST", "/controller/network/d5a72ff358c0ffee", "{\"name\":\"from-c\"}", resp,
                                sizeof resp, &rl, &status) == ZT_OK);
    CHECK(status == 200 && strstr(resp, "from-c") != NULL);
    CHECK(zt_controller_request(c, "GET", "/controller/network", NULL, resp, sizeof resp, &rl, &status) == ZT_OK);
    CHECK(status == 200 && strstr(resp, "d5a72ff358c0ffee") != NULL);
    CHECK(zt_controller_request(c, "GET", "/no/such/path", NULL, resp, sizeof resp, &rl, &status) == ZT_OK);
    CHECK(status == 404);
    CHECK(zt_controller_request(c, "GET", "/controller/network/d5a72ff358c0ffee", NULL, resp, 4, &rl, &status) ==
          ZT_ERR_TOO_LARGE);
    CHECK(rl > 4 && status == 200);
    CHECK(zt_controller_request(c, "GET", NULL, NULL, resp, sizeof resp, &rl, &status) == ZT_ERR_INVALID_ARGUMENT);
    zt_controller_free(c);
  }
  {
    uint8_t small[8], planet[1024];
    size_t len = 0, len2 = 0;
    CHECK(zt_planet_make(77, 1700000000000ULL, secret, "127.0.0.1/9993", small, sizeof small, &len) == ZT_ERR_TOO_LARGE);
    CHECK(len > sizeof small && len <= sizeof planet);
    CHECK(zt_planet_make(77, 1700000000000ULL, secret, "127.0.0.1/9993", planet, sizeof planet, &len2) == ZT_OK);
    CHECK(len2 == len && planet[0] == 1); /* type 1: planet */
    CHECK(zt_planet_make(77, 1700000000000ULL, secret, "not-an-endpoint", planet, sizeof planet, &len) ==
          ZT_ERR_INVALID_ARGUMENT);
  }

  {
    zt_node* t = NULL;
    zt_node_options_init(&o);
    o.port = 0;
    o.bind = "127.0.0.1";
    o.on_event = on_event;
    CHECK(zt_node_new(rt, &o, &t) == ZT_OK);
    CHECK(zt_node_join(t, 0x1122334455667788ULL) == ZT_OK); /* the event fires inside the call */
    CHECK(joined_traces == 1 && joined_nwid == 0x1122334455667788ULL);
    zt_node_free(t);
  }

  zt_node_free(a);
  zt_node_free(b);
  zt_runtime_free(rt);
  puts("capi C check ok");
  return 0;
}
