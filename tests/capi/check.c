/* Compiled as C99: proves the public header is plain C and that a C program can run nodes.
 * Two in-memory nodes on 127.0.0.1 (no planet): both start, report an address and a port,
 * and reject bad input with an error message instead of crashing. */
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

int main(void) {
  zt_runtime* rt = NULL;
  zt_node *a = NULL, *b = NULL;
  zt_node_options o;
  zt_node_status st;
  zt_peer peers[4];
  size_t n = 99;
  uint64_t addr = 0;
  char secret[300];

  CHECK(strcmp(zt_version(), "0.1.0") == 0);
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

  zt_node_free(a);
  zt_node_free(b);
  zt_runtime_free(rt);
  puts("capi C check ok");
  return 0;
}
