/* TCP echo between two ztcore nodes' IP stacks, in one process on 127.0.0.1 only.
 * A root (with a planet made for it), a node serving an embedded controller with a private
 * network 10.77.0.0/24, and two members with `stack = 1`: B listens on port 7, A connects to
 * B's address, sends a line and reads it back. Built and run by ctest (example_tcp_echo). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ztcore/ztcore.h"

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "FAILED: %s (%s)\n", #cond, zt_last_error());                   \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static zt_result request(zt_controller* c, const char* method, const char* path, const char* body, char* out,
                         size_t cap) {
  size_t len = 0;
  int status = 0;
  zt_result r = zt_controller_request(c, method, path, body, out, cap, &len, &status);
  return r == ZT_OK && status == 200 ? ZT_OK : ZT_ERR_INVALID_ARGUMENT;
}

/* The member's first IPv4 address on nwid ("" until its config arrived). */
static void ipv4_of(zt_node* n, uint64_t nwid, char* ip, size_t cap) {
  static zt_network_info info;
  ip[0] = 0;
  if (zt_node_network(n, nwid, &info) != ZT_OK || info.status != ZT_NETWORK_OK) return;
  for (unsigned i = 0; i < info.address_count; ++i)
    if (!strchr(info.addresses[i], ':')) {
      snprintf(ip, cap, "%.*s", (int)strcspn(info.addresses[i], "/"), info.addresses[i]);
      return;
    }
}

int main(void) {
  zt_runtime* rt;
  zt_controller* ctl;
  zt_node *root = NULL, *probe, *cnode, *a, *b;
  zt_node_options o;
  zt_node_status st;
  char id[512], ep[64], path[128], out[4096], ipb[64] = "", ipa[64] = "";
  static uint8_t planet[4096];
  size_t planet_len = 0;
  uint64_t nwid;

  CHECK(zt_runtime_new(&rt) == ZT_OK);
  /* Root: learn a free port with a probe node, make a planet naming it, start the root. */
  CHECK(zt_identity_generate(id, sizeof id) == ZT_OK);
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.allow_loopback = 1;
  o.identity = id;
  CHECK(zt_node_new(rt, &o, &probe) == ZT_OK);
  CHECK(zt_node_status_get(probe, &st) == ZT_OK);
  zt_node_free(probe);
  snprintf(ep, sizeof ep, "127.0.0.1/%u", (unsigned)st.port);
  CHECK(zt_planet_make(1, 1700000000000ULL, id, ep, planet, sizeof planet, &planet_len) == ZT_OK);
  o.port = st.port;
  o.planet = planet;
  o.planet_len = planet_len;
  CHECK(zt_node_new(rt, &o, &root) == ZT_OK);

  /* Controller node and a private network with an IPv4 pool. */
  CHECK(zt_controller_new(NULL, &ctl) == ZT_OK);
  o.port = 0;
  o.identity = NULL;
  o.controller = ctl;
  CHECK(zt_node_new(rt, &o, &cnode) == ZT_OK);
  nwid = (zt_node_address(cnode) << 24) | 0x000001;
  snprintf(path, sizeof path, "/controller/network/%016llx", (unsigned long long)nwid);
  CHECK(request(ctl, "POST", path,
                "{\"private\":true,\"v4AssignMode\":{\"zt\":true},"
                "\"ipAssignmentPools\":[{\"ipRangeStart\":\"10.77.0.1\",\"ipRangeEnd\":\"10.77.0.254\"}],"
                "\"routes\":[{\"target\":\"10.77.0.0/24\",\"via\":null}]}",
                out, sizeof out) == ZT_OK);

  /* Two members with the IP stack, authorized. */
  o.controller = NULL;
  o.stack = 1;
  o.join = &nwid;
  o.join_count = 1;
  CHECK(zt_node_new(rt, &o, &a) == ZT_OK);
  CHECK(zt_node_new(rt, &o, &b) == ZT_OK);
  for (int i = 0; i < 2; ++i) {
    snprintf(path, sizeof path, "/controller/network/%016llx/member/%010llx", (unsigned long long)nwid,
             (unsigned long long)zt_node_address(i ? b : a));
    CHECK(request(ctl, "POST", path, "{\"authorized\":true}", out, sizeof out) == ZT_OK);
  }
  for (int i = 0; i < 600 && (!ipa[0] || !ipb[0]); ++i, sleep_ms(50)) {
    ipv4_of(a, nwid, ipa, sizeof ipa);
    ipv4_of(b, nwid, ipb, sizeof ipb);
  }
  CHECK(ipa[0] && ipb[0]);
  printf("A %s, B %s\n", ipa, ipb);

  /* ---- the sockets part ---- */
  zt_socket *srv = NULL, *cli = NULL, *conn = NULL;
  char line[] = "hello over ztcore", buf[64], peer[64];
  size_t n = 0, got = 0;
  uint16_t peer_port = 0;
  CHECK(zt_socket_new(b, ZT_AF_INET, ZT_SOCK_STREAM, &srv) == ZT_OK);
  /* B's stack comes up right after its config: retry the bind briefly. */
  for (int i = 0; i < 100 && zt_socket_bind(srv, NULL, 7) != ZT_OK; ++i) sleep_ms(20);
  CHECK(zt_socket_listen(srv, 4) == ZT_OK);
  CHECK(zt_socket_new(a, ZT_AF_INET, ZT_SOCK_STREAM, &cli) == ZT_OK);
  CHECK(zt_socket_set_timeout(cli, 10000) == ZT_OK);
  CHECK(zt_socket_connect(cli, ipb, 7) == ZT_OK);
  CHECK(zt_socket_accept(srv, &conn, peer, sizeof peer, &peer_port) == ZT_OK);
  CHECK(zt_socket_send(cli, line, strlen(line), &n) == ZT_OK && n == strlen(line));
  CHECK(zt_socket_recv(conn, buf, sizeof buf, &got) == ZT_OK); /* echo it */
  CHECK(zt_socket_send(conn, buf, got, &n) == ZT_OK);
  got = 0;
  while (got < strlen(line)) {
    size_t k = 0;
    CHECK(zt_socket_recv(cli, buf + got, sizeof buf - got, &k) == ZT_OK && k > 0);
    got += k;
  }
  CHECK(got == strlen(line) && memcmp(buf, line, got) == 0);
  printf("B accepted %s:%u; A got back \"%.*s\"\n", peer, (unsigned)peer_port, (int)got, buf);
  zt_socket_close(conn);
  zt_socket_close(cli);
  zt_socket_close(srv);

  zt_node_free(a);
  zt_node_free(b);
  zt_node_free(cnode);
  zt_node_free(root);
  zt_controller_free(ctl);
  zt_runtime_free(rt);
  return 0;
}
