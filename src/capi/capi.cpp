// extern "C" shims over the runtime: catch everything, map to zt_result, keep the message.
// This file: runtime, nodes, peers, identities. Networks: capi_network.cpp; controller and
// worlds: capi_controller.cpp; shared types: capi_internal.hpp.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "capi/capi_internal.hpp"
#include "crypto/crypto.hpp"
#include "proto/identity.hpp"
#include "base/version.hpp"
#include "core/trace.hpp"
#include "runtime/identity_store.hpp"

using namespace zt;
using namespace zt::capi;

namespace zt::capi {

namespace {
thread_local std::string g_last_error;
}  // namespace

zt_result fail(zt_result code, std::string msg) {
  g_last_error = std::move(msg);
  return code;
}

zt_result check_node(zt_node* n) {
  if (!n) return fail(ZT_ERR_INVALID_ARGUMENT, "null node");
  if (!n->owner) return fail(ZT_ERR_STATE, "the node's runtime was freed");
  if (n->owner->rt->on_loop_thread())
    return fail(ZT_ERR_STATE, "ztcore functions cannot be called from an event callback");
  if (!n->h) return fail(ZT_ERR_STATE, "the node is not started");
  return ZT_OK;
}

zt_result result_of(ErrorKind kind, zt_result invalid) {
  switch (kind) {
    case ErrorKind::NotFound: return ZT_ERR_NOT_FOUND;
    case ErrorKind::Io: return ZT_ERR_IO;
    case ErrorKind::State: return ZT_ERR_STATE;
    case ErrorKind::TooLarge: return ZT_ERR_TOO_LARGE;
    case ErrorKind::Internal: return ZT_ERR_INTERNAL;
    case ErrorKind::InvalidArgument: break;
  }
  return invalid;
}

zt_result from_status(const Status& st, zt_result other) {
  if (st.ok()) return ZT_OK;
  return fail(result_of(st.kind(), other), st.error());
}

}  // namespace zt::capi

extern "C" {

const char* zt_version(void) { return kZtcoreVersion; }

const char* zt_trace_code_name(uint32_t code) { return zt::core::trace_code_name(code); }
const char* zt_last_error(void) { return g_last_error.c_str(); }

zt_result zt_runtime_new(zt_runtime** out) {
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output pointer");
  return guarded([&] {
    *out = new zt_runtime();
    return ZT_OK;
  });
}

void zt_runtime_free(zt_runtime* rt) {
  if (!rt) return;
  try {
    if (rt->rt->on_loop_thread()) return;  // from a callback: would join its own thread
    std::vector<zt_node*> nodes;
    {
      std::lock_guard lk(rt->mu);
      nodes.swap(rt->nodes);
    }
    for (zt_node* n : nodes)
      if (n->stack) n->stack->close();  // stacks post to the loop thread: close them first
    rt->rt.reset();  // stops every node, then the loop thread
    for (zt_node* n : nodes) {
      unlink_controller(n);
      n->owner = nullptr;
    }
    delete rt;
  } catch (...) {
  }
}

void zt_node_options_init(zt_node_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->port = 9993;
}

namespace {

// True if the caller's zt_node_options (struct_size bytes) contains `field`.
#define ZT_HAS_FIELD(o, field) \
  ((o)->struct_size >= offsetof(zt_node_options, field) + sizeof(((zt_node_options*)nullptr)->field))

void copy_text(char (&out)[46], const std::string& s) {
  const size_t n = std::min(s.size(), sizeof out - 1);
  std::memcpy(out, s.data(), n);
  out[n] = 0;
}

// A core::TraceInfo as the C ABI's zt_trace (strings point into `t`).
void fill_trace(const core::TraceInfo& t, zt_trace& o) {
  o.code = t.code;
  o.nwid = t.nwid;
  o.peer = t.peer;
  o.src_mac = t.mac_source.value();
  o.dst_mac = t.mac_dest.value();
  o.ethertype = t.ethertype;
  o.vlan = t.vlan;
  o.frame_len = t.frame_length;
  o.ip_version = t.ip_version;
  copy_text(o.src_ip, t.ip_source_string());
  copy_text(o.dst_ip, t.ip_dest_string());
  o.ip_protocol = t.ip_protocol;
  o.src_port = t.port_source;
  o.dst_port = t.port_dest;
  o.inbound = t.inbound ? 1 : 0;
  o.rule = t.rule;
  o.action = t.action.c_str();
  o.has_capability = t.capability ? 1 : 0;
  o.capability = t.capability.value_or(0);
  o.reason = t.reason.c_str();
  o.frame = t.frame.data();
  o.frame_captured = t.frame.size();
}

void wire_callbacks(zt_node* raw, runtime::NodeConfig& c) {
  if (raw->on_event)
    c.on_event = [raw](const core::Event& e) {
      zt_event ev{};
      ev.type = int(e.type);
      ev.peer = e.peer;
      ev.type_id = e.type_id;
      ev.data = e.data.data();
      ev.len = e.data.size();
      ev.text = e.text.c_str();
      zt_trace tr{};
      if (e.type == core::EventType::Trace && e.trace) {
        fill_trace(*e.trace, tr);
        ev.trace = &tr;
      }
      try {
        raw->on_event(raw, raw->user, &ev);
      } catch (...) {
      }
    };
  if (raw->on_frame)
    c.on_frame = [raw](uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
      zt_frame f{};
      f.nwid = nwid;
      f.src_mac = src.value();
      f.dst_mac = dst.value();
      f.ethertype = ethertype;
      f.vlan = vlan;
      f.data = data.data();
      f.len = data.size();
      try {
        raw->on_frame(raw, raw->user, &f);
      } catch (...) {
      }
    };
  if (raw->on_network) {
    raw->network_scratch = std::make_unique<zt_network_info>();
    c.on_network = [raw](uint64_t, core::NetworkOp op, const core::NetworkInfo& info) {
      zt_network_info& z = *raw->network_scratch;
      fill_network_info(info, z);
      try {
        raw->on_network(raw, raw->user, int(op), &z);
      } catch (...) {
      }
    };
  }
  if (raw->on_wire)
    c.on_wire = [raw](runtime::WireDirection dir, const proto::InetAddress& remote, int64_t now, ByteSpan data) {
      zt_wire w;
      w.direction = dir == runtime::WireDirection::Sent ? ZT_WIRE_SENT : ZT_WIRE_RECEIVED;
      std::snprintf(w.remote, sizeof w.remote, "%s", remote.to_string().c_str());
      w.time_ms = now;
      w.data = data.data();
      w.len = data.size();
      try {
        raw->on_wire(raw, raw->user, &w);
      } catch (...) {
      }
    };
}

}  // namespace

zt_result zt_node_new(zt_runtime* rt, const zt_node_options* o, zt_node** out) {
  if (!rt || !o || !out) return fail(ZT_ERR_INVALID_ARGUMENT, "null argument");
  if (!ZT_HAS_FIELD(o, user))
    return fail(ZT_ERR_INVALID_ARGUMENT, "zt_node_options.struct_size too small (call zt_node_options_init)");
  if (rt->rt->on_loop_thread()) return fail(ZT_ERR_STATE, "cannot create a node from an event callback");
  return guarded([&]() -> zt_result {
    runtime::NodeConfig c;
    if (o->home) c.home = o->home;
    c.port = o->port;
    if (o->bind) {
      std::stringstream ss(o->bind);
      std::string part;
      while (std::getline(ss, part, ',')) {
        if (part.empty()) continue;
        auto a = proto::InetAddress::parse(part);
        if (!a) return fail(ZT_ERR_INVALID_ARGUMENT, "bad bind address: " + part);
        c.bind.push_back(*a);
      }
    }
    if (o->planet && o->planet_len) {
      c.planet = Bytes(o->planet, o->planet + o->planet_len);
    } else if (o->planet_file) {
      auto b = runtime::read_file(o->planet_file);
      if (!b) return fail(ZT_ERR_IO, std::string("cannot read planet file ") + o->planet_file);
      c.planet = *b;
    }
    if (o->identity) {
      std::string text(o->identity);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
      auto id = proto::Identity::parse(text);
      if (!id.ok()) return fail(ZT_ERR_INVALID_ARGUMENT, "bad identity: " + id.error());
      if (!id->has_private()) return fail(ZT_ERR_INVALID_ARGUMENT, "identity has no secret part");
      c.identity = *id;
    }
    c.allow_loopback = o->allow_loopback != 0;
    if (o->online_timeout_ms > 0) c.online_timeout_ms = o->online_timeout_ms;

    auto node = std::make_unique<zt_node>();
    node->owner = rt;
    node->user = o->user;
    node->on_event = o->on_event;
    // ABI 1.1 fields: only those the caller's struct covers.
    if (ZT_HAS_FIELD(o, on_frame)) node->on_frame = o->on_frame;
    if (ZT_HAS_FIELD(o, on_network)) node->on_network = o->on_network;
    if (ZT_HAS_FIELD(o, on_wire)) node->on_wire = o->on_wire;
    if (ZT_HAS_FIELD(o, join_count) && o->join_count) {
      if (!o->join) return fail(ZT_ERR_INVALID_ARGUMENT, "join_count is set but join is NULL");
      for (size_t i = 0; i < o->join_count; ++i) {
        if (o->join[i] == 0) return fail(ZT_ERR_INVALID_ARGUMENT, "join: invalid network id 0");
        c.join.push_back(o->join[i]);
      }
    }
    zt_controller* ctl = ZT_HAS_FIELD(o, controller) ? o->controller : nullptr;
    wire_callbacks(node.get(), c);
    if (ZT_HAS_FIELD(o, stack) && o->stack) node->stack = stack::NodeStack::attach(c);  // wraps the callbacks

    if (ctl) {
      std::lock_guard lk(ctl->mu);
      if (ctl->claimed) return fail(ZT_ERR_STATE, "this zt_controller already serves another node");
      ctl->claimed = true;
      c.controller = ctl->ctl.get();
    }
    auto h = rt->rt->add_node(std::move(c));
    if (!h.ok()) {
      if (ctl) {
        std::lock_guard lk(ctl->mu);
        ctl->claimed = false;
      }
      return fail(result_of(h.kind()), h.error());
    }
    node->h = *h;
    if (node->stack) node->stack->start(*rt->rt, node->h);
    if (ctl) {
      std::lock_guard lk(ctl->mu);
      ctl->node = node.get();
      node->controller = ctl;
    }
    {
      std::lock_guard lk(rt->mu);
      rt->nodes.push_back(node.get());
    }
    *out = node.release();
    return ZT_OK;
  });
}

void zt_node_free(zt_node* node) {
  if (!node) return;
  try {
    if (node->owner) {
      if (node->owner->rt->on_loop_thread()) return;  // from a callback: refused (would stop the node mid-call)
      {
        std::lock_guard lk(node->owner->mu);
        std::erase(node->owner->nodes, node);
      }
      if (node->stack) node->stack->close();  // its sockets and netifs, before the node stops
      if (node->h) node->owner->rt->remove_node(node->h);
      unlink_controller(node);
    }
    node->h.reset();
    delete node;
  } catch (...) {
  }
}

uint64_t zt_node_address(const zt_node* node) { return node && node->h ? node->h->address() : 0; }

zt_result zt_node_status_get(zt_node* node, zt_node_status* out) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto s = node->h->status();
    std::memset(out, 0, sizeof *out);
    out->address = s.address;
    out->online = s.online;
    out->port = node->h->port();
    out->planet_id = s.planet_id;
    out->planet_timestamp = s.planet_timestamp;
    std::snprintf(out->public_identity, sizeof out->public_identity, "%s", s.public_identity.c_str());
    return ZT_OK;
  });
}

zt_result zt_node_peers(zt_node* node, zt_peer* out, size_t cap, size_t* count) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!count || (cap && !out)) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto peers = node->h->peers();
    *count = peers.size();
    for (size_t i = 0; i < peers.size() && i < cap; ++i) {
      const auto& p = peers[i];
      zt_peer& o = out[i];
      std::memset(&o, 0, sizeof o);
      o.address = p.address;
      o.role = int(p.role);
      o.latency_ms = p.latency_ms;
      o.version_major = p.version_major;
      o.version_minor = p.version_minor;
      o.version_revision = p.version_revision;
      o.protocol_version = p.protocol_version;
      o.direct = p.direct;
      for (const auto& path : p.paths) {
        if (o.path_count >= ZT_MAX_PEER_PATHS) break;
        zt_path& z = o.paths[o.path_count++];
        std::snprintf(z.address, sizeof z.address, "%s", path.address.to_string().c_str());
        z.last_send = path.last_send;
        z.last_receive = path.last_receive;
        z.alive = path.alive;
        z.preferred = path.preferred;
      }
    }
    return ZT_OK;
  });
}

zt_result zt_node_orbit(zt_node* node, uint64_t moon_id, uint64_t seed) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->orbit(moon_id, seed)); });
}

zt_result zt_node_deorbit(zt_node* node, uint64_t moon_id) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->deorbit(moon_id)); });
}

zt_result zt_node_send_user_message(zt_node* node, uint64_t dest, uint64_t type_id, const void* data, size_t len) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (len && !data) return fail(ZT_ERR_INVALID_ARGUMENT, "null data");
  if (dest == 0 || proto::address_reserved(dest)) return fail(ZT_ERR_INVALID_ARGUMENT, "invalid destination address");
  return guarded([&] {
    auto st = node->h->send_user_message(dest, type_id, ByteSpan(static_cast<const uint8_t*>(data), len));
    return from_status(st);
  });
}

zt_result zt_node_ping(zt_node* node, uint64_t dest) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->ping(dest)); });
}

zt_result zt_node_pcap_start(zt_node* node, const char* path) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!path || !*path) return fail(ZT_ERR_INVALID_ARGUMENT, "pcap: no file name");
  return guarded([&] { return from_status(node->h->pcap_start(path)); });
}

zt_result zt_node_pcap_stop(zt_node* node) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  return guarded([&] { return from_status(node->h->pcap_stop()); });
}

zt_result zt_node_counters(zt_node* node, zt_counters* out) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto c = node->h->counters();
    out->datagrams_in = c.datagrams_in;
    out->datagrams_out = c.datagrams_out;
    out->packets_in = c.packets_in;
    out->relayed = c.relayed;
    out->dropped_malformed = c.dropped_malformed;
    out->dropped_auth = c.dropped_auth;
    out->dropped_unknown_peer = c.dropped_unknown_peer;
    out->dropped_policy = c.dropped_policy;
    out->whois_sent = c.whois_sent;
    return ZT_OK;
  });
}

zt_result zt_identity_generate(char* buf, size_t cap) {
  if (!buf) return fail(ZT_ERR_INVALID_ARGUMENT, "null buffer");
  return guarded([&] {
    crypto::init();
    std::string s = runtime::generate_identity().to_string(true);
    if (s.size() + 1 > cap) return fail(ZT_ERR_TOO_LARGE, "buffer too small (need " + std::to_string(s.size() + 1) + ")");
    std::memcpy(buf, s.c_str(), s.size() + 1);
    return ZT_OK;
  });
}

zt_result zt_identity_validate(const char* text, uint64_t* address) {
  if (!text) return fail(ZT_ERR_INVALID_ARGUMENT, "null identity");
  return guarded([&] {
    crypto::init();
    auto id = proto::Identity::parse(text);
    if (!id.ok()) return fail(ZT_ERR_INVALID_ARGUMENT, id.error());
    if (!id->validate()) return fail(ZT_ERR_INVALID_ARGUMENT, id->validate_reason());
    if (address) *address = id->address();
    return ZT_OK;
  });
}

}  // extern "C"
