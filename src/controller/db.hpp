// Controller storage (PROTOCOL.md §10.2): network and member records as JSON objects.
//
// ControllerDb is the backend-neutral interface; MemoryControllerDb (tests) and
// SqliteControllerDb (sqlite_db.hpp) implement it, a PostgreSQL backend can later.
//
// Contract shared by every backend:
//   * records are the §10.2 JSON objects, keyed by nwid (16 hex) and member address (10 hex)
//     taken from the record's "id"/"nwid" fields;
//   * put_*() writes only when the record differs from the stored one in some field other
//     than "revision"; it then sets revision = stored revision + 1 (1 for a new record) and
//     returns changed = true with the object as stored. An unchanged record is not written;
//   * delete_network() also deletes the network's members;
//   * reads of a missing record return nullopt; backend failures on reads are reported as
//     "missing" (and through last_error()), failures on writes as errors.
//   * a backend shared by several controller processes (PostgreSQL) reports changes made by
//     the *other* processes through the change listener (scale-out, see pg_db.hpp).
// Thread-safety: every method may be called from any thread (backends synchronize).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"

namespace zt::controller {

using json = nlohmann::json;

struct PutResult {
  bool changed = false;
  json stored;  // the record as now stored (with its revision)
};

// SSO details for a member (§10.1 step 8). Only a central-style backend has them.
struct SsoInfo {
  bool enabled = false;
  uint64_t version = 0;
  std::string authentication_url;    // version 0
  std::string issuer_url;            // version 1 ...
  std::string central_url;
  std::string nonce;
  std::string state;
  std::string client_id;
};

// A change written by another process on a shared database (not our own writes).
struct DbChange {
  enum class Kind { Network, Member, NetworkDeleted, MemberDeleted } kind = Kind::Network;
  uint64_t nwid = 0;
  proto::Address member = 0;
  bool deauthorized = false;  // Member: was authorized, now is not; MemberDeleted: was authorized
};
using DbChangeListener = std::function<void(const DbChange&)>;

// "Member last seen" as the controller records it (batched, see record_seen()).
struct SeenRecord {
  uint64_t nwid = 0;
  proto::Address member = 0;
  int64_t last_seen = 0;  // ms, the node's clock
  std::string physical;   // "ip/port" the request came from, or empty
  std::string metadata;   // hex of the request metadata of an authorized member (for pushes)
  std::string identity;   // recent_seen() only: the member's pinned identity (public)
};

class ControllerDb {
 public:
  virtual ~ControllerDb() = default;

  virtual bool ready() const { return true; }
  virtual std::string last_error() const { return {}; }

  virtual std::vector<uint64_t> list_networks() = 0;  // ascending
  virtual std::optional<json> get_network(uint64_t nwid) = 0;
  virtual Result<PutResult> put_network(const json& network) = 0;
  // Deletes the network and its members; returns the deleted network record (nullopt if
  // there was none).
  virtual Result<std::optional<json>> delete_network(uint64_t nwid) = 0;

  // Members of a network: address → revision, ascending address.
  virtual std::map<proto::Address, uint64_t> member_revisions(uint64_t nwid) = 0;
  // All member records of a network, ascending address.
  virtual std::vector<json> members_of(uint64_t nwid) = 0;
  virtual std::optional<json> get_member(uint64_t nwid, proto::Address a) = 0;
  virtual Result<PutResult> put_member(const json& member) = 0;
  virtual Result<std::optional<json>> delete_member(uint64_t nwid, proto::Address a) = 0;

  // What the config builder needs of the other members (instead of members_of(), which
  // copies every record): addresses whose record has activeBridge = true (ascending), and
  // every IP in any member's ipAssignments (port 0). Defaults derive both from members_of();
  // the SQL backends answer from indexed columns.
  virtual std::vector<proto::Address> active_bridges(uint64_t nwid);
  virtual std::set<proto::InetAddress> assigned_ips(uint64_t nwid);

  // True when other processes may write the same records (the API may then change networks
  // of other controllers: their owner pushes). Changes they make arrive through `fn`, on a
  // backend thread; nullptr unregisters (and waits for a running call to finish).
  virtual bool shared() const { return false; }
  virtual void set_change_listener(DbChangeListener fn) {}

  // Last-seen of members, written in batches (a flush every few seconds, not per request).
  virtual void record_seen(const std::vector<SeenRecord>& batch) {}
  // Members of networks owned by `controller` seen at or after `since` with metadata, with
  // their identity: what a restarted controller needs to keep pushing to online members.
  virtual std::vector<SeenRecord> recent_seen(proto::Address controller, int64_t since) { return {}; }

  // §10.1 step 8: SSO information for a member; none by default.
  virtual SsoInfo sso_info(const json& network, const json& member) { return {}; }
};

// The shared revision rule: returns true (and sets incoming["revision"]) when `incoming`
// must be written, i.e. there is no stored record or they differ outside "revision".
bool prepare_put(const json* stored, json& incoming);

// Keys of a record: nwid from "nwid" (or "id" for networks), address from "address"/"id".
std::optional<uint64_t> record_nwid(const json& record);
std::optional<proto::Address> record_address(const json& member);
// The string entries of a member's ipAssignments.
std::vector<std::string> member_ip_strings(const json& member);

// In-memory backend, for tests and ephemeral controllers.
class MemoryControllerDb : public ControllerDb {
 public:
  std::vector<uint64_t> list_networks() override;
  std::optional<json> get_network(uint64_t nwid) override;
  Result<PutResult> put_network(const json& network) override;
  Result<std::optional<json>> delete_network(uint64_t nwid) override;
  std::map<proto::Address, uint64_t> member_revisions(uint64_t nwid) override;
  std::vector<json> members_of(uint64_t nwid) override;
  std::optional<json> get_member(uint64_t nwid, proto::Address a) override;
  Result<PutResult> put_member(const json& member) override;
  Result<std::optional<json>> delete_member(uint64_t nwid, proto::Address a) override;

 private:
  std::mutex mu_;
  std::map<uint64_t, json> networks_;
  std::map<uint64_t, std::map<proto::Address, json>> members_;
};

}  // namespace zt::controller
