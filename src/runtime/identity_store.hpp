// Identity files and fresh identities: the file and OS-randomness side of proto::Identity,
// which itself stays pure (parse/encode, generate from injected randomness).
#pragma once

#include <string>

#include "base/result.hpp"
#include "proto/identity.hpp"

namespace zt::runtime {

// A new identity from the OS random source (§1.2; tens of ms to a second or so).
proto::Identity generate_identity();

// Identity from a file holding the text form (§1.4; trailing whitespace ignored). Errors name
// the path (Io when unreadable, InvalidArgument when malformed) and never echo the file's
// contents; the text read is wiped.
Result<proto::Identity> load_identity_file(const std::string& path);

// Writes the secret text form to `path` atomically (temp file + rename) with mode 0600, also
// when a file with another mode was there. Error (InvalidArgument) without a private key.
Status save_identity_secret(const proto::Identity& id, const std::string& path);
// Writes the public text form to `path` atomically, mode 0644.
Status save_identity_public(const proto::Identity& id, const std::string& path);

}  // namespace zt::runtime
