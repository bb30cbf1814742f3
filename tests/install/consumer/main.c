/* The installed C header and library from C: the version and an identity round trip. */
#include <stdio.h>
#include <string.h>

#include <ztcore/ztcore.h>

int main(void) {
  char id[512];
  uint64_t address = 0;
  if (zt_identity_generate(id, sizeof id) != ZT_OK || zt_identity_validate(id, &address) != ZT_OK || !address) {
    fprintf(stderr, "failed: %s\n", zt_last_error());
    return 1;
  }
  printf("ztcore %s from C: identity %010llx\n", zt_version(), (unsigned long long)address);
  return strlen(zt_version()) > 0 ? 0 : 1;
}
