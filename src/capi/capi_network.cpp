// C ABI: virtual networks — join/leave, network info, frames, multicast groups, MACs.
#include <cstdio>
#include <cstring>

#include "capi/capi_internal.hpp"
#include "proto/vl2.hpp"

using namespace zt;
using namespace zt::capi;

namespace {

// ZT_MAX_MTU of the reference: no network config allows larger frames, so larger payloads
// are refused even before a config (and its MTU) is known.
constexpr size_t kMaxMtu = 10000;
constexpr uint64_t kMacMask = 0xffffffffffffULL;

template <size_t N>
void copy_text(char (&dst)[N], const std::string& s) {
  std::snprintf(dst, N, "%s", s.c_str());
}

zt_result check_mac(uint64_t mac, const char* what) {
  if (mac & ~kMacMask) return fail(ZT_ERR_INVALID_ARGUMENT, std::string(what) + " has bits above the 48-bit MAC");
  return ZT_OK;
}

}  // namespace

namespace zt::capi {

void fill_network_info(const core::NetworkInfo& in, zt_network_info& out) {
  // Every field is written; the unused tail of each array is cleared so that a reused
  // struct never shows entries from an earlier call.
  out.nwid = in.nwid;
  out.mac = in.mac.value();
  copy_text(out.name, in.name);
  out.status = int(in.status);
  out.status_name = core::network_status_name(in.status);
  out.has_config = in.has_config;
  out.is_public = in.is_public;
  out.mtu = in.mtu;
  out.broadcast = in.broadcast;
  out.multicast_limit = in.multicast_limit;
  out.revision = in.revision;

  out.address_count = 0;
  for (const auto& a : in.assigned_addresses) {
    if (out.address_count == ZT_MAX_NETWORK_ADDRESSES) break;
    copy_text(out.addresses[out.address_count++], a.to_string());
  }
  std::memset(out.addresses + out.address_count, 0,
              sizeof out.addresses[0] * (ZT_MAX_NETWORK_ADDRESSES - out.address_count));

  out.route_count = 0;
  for (const auto& r : in.routes) {
    if (out.route_count == ZT_MAX_NETWORK_ROUTES) break;
    zt_route& z = out.routes[out.route_count++];
    copy_text(z.target, r.target.to_string());
    copy_text(z.via, r.via.empty() ? std::string() : r.via.ip_string());
    z.flags = r.flags;
    z.metric = r.metric;
  }
  std::memset(out.routes + out.route_count, 0, sizeof out.routes[0] * (ZT_MAX_NETWORK_ROUTES - out.route_count));

  out.subscription_count = 0;
  for (const auto& g : in.subscriptions) {
    if (out.subscription_count == ZT_MAX_NETWORK_SUBSCRIPTIONS) break;
    zt_multicast_group& z = out.subscriptions[out.subscription_count++];
    z.mac = g.mac.value();
    z.adi = g.adi;
  }
  std::memset(out.subscriptions + out.subscription_count, 0,
              sizeof out.subscriptions[0] * (ZT_MAX_NETWORK_SUBSCRIPTIONS - out.subscription_count));
}

}  // namespace zt::capi

extern "C" {

zt_result zt_node_join(zt_node* node, uint64_t nwid) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (nwid == 0) return fail(ZT_ERR_INVALID_ARGUMENT, "invalid network id 0");
  return guarded([&] { return from_status(node->h->join(nwid)); });
}

zt_result zt_node_leave(zt_node* node, uint64_t nwid) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->leave(nwid)); });
}

zt_result zt_node_networks(zt_node* node, zt_network_info* out, size_t cap, size_t* count) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!count || (cap && !out)) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto nets = node->h->networks();
    *count = nets.size();
    for (size_t i = 0; i < nets.size() && i < cap; ++i) fill_network_info(nets[i], out[i]);
    return ZT_OK;
  });
}

zt_result zt_node_network(zt_node* node, uint64_t nwid, zt_network_info* out) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto net = node->h->network(nwid);
    if (!net) return fail(ZT_ERR_NOT_FOUND, "network " + proto::network_id_to_string(nwid) + " is not joined");
    fill_network_info(*net, *out);
    return ZT_OK;
  });
}

zt_result zt_node_send_frame(zt_node* node, uint64_t nwid, uint64_t src_mac, uint64_t dst_mac, uint16_t ethertype,
                             uint16_t vlan, const void* data, size_t len) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (len && !data) return fail(ZT_ERR_INVALID_ARGUMENT, "null data");
  if (zt_result r = check_mac(src_mac, "src_mac"); r != ZT_OK) return r;
  if (zt_result r = check_mac(dst_mac, "dst_mac"); r != ZT_OK) return r;
  if (len > kMaxMtu)
    return fail(ZT_ERR_TOO_LARGE, "frame of " + std::to_string(len) + " bytes exceeds the largest MTU (10000)");
  return guarded([&] {
    return from_status(node->h->send_frame(nwid, proto::Mac(src_mac), proto::Mac(dst_mac), ethertype, vlan,
                                           ByteSpan(static_cast<const uint8_t*>(data), len)));
  });
}

zt_result zt_node_multicast_subscribe(zt_node* node, uint64_t nwid, uint64_t mac, uint32_t adi) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (zt_result r = check_mac(mac, "mac"); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->multicast_subscribe(nwid, {proto::Mac(mac), adi})); });
}

zt_result zt_node_multicast_unsubscribe(zt_node* node, uint64_t nwid, uint64_t mac, uint32_t adi) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (zt_result r = check_mac(mac, "mac"); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->multicast_unsubscribe(nwid, {proto::Mac(mac), adi})); });
}

zt_result zt_node_explain(zt_node* node, uint64_t nwid, const uint8_t* frame, size_t len, int inbound, uint64_t peer,
                          char* json_out, size_t cap, size_t* out_len) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!out_len) return fail(ZT_ERR_INVALID_ARGUMENT, "null out_len");
  if (len && !frame) return fail(ZT_ERR_INVALID_ARGUMENT, "null frame");
  if (cap && !json_out) return fail(ZT_ERR_INVALID_ARGUMENT, "null json_out with cap > 0");
  if (peer & ~0xffffffffffULL) return fail(ZT_ERR_INVALID_ARGUMENT, "peer has bits above the 40-bit address");
  if (len > kMaxMtu + 14 + 8)  // the largest frame a network carries, with header and two VLAN tags
    return fail(ZT_ERR_TOO_LARGE, "frame of " + std::to_string(len) + " bytes exceeds the largest MTU (10000)");
  return guarded([&] {
    auto j = node->h->explain_frame(nwid, ByteSpan(frame, len), inbound != 0, peer);
    if (!j) return fail(result_of(j.kind()), j.error());
    *out_len = j->size() + 1;
    if (cap < j->size() + 1)
      return fail(ZT_ERR_TOO_LARGE, "output needs " + std::to_string(j->size() + 1) + " bytes");
    std::memcpy(json_out, j->c_str(), j->size() + 1);
    return ZT_OK;
  });
}

uint64_t zt_network_mac(uint64_t address, uint64_t nwid) {
  return proto::Mac::from_address(address & 0xffffffffffULL, nwid).value();
}

}  // extern "C"
