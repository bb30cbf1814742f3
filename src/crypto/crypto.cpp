// Placeholder until the crypto implementation lands.
#include "crypto/crypto.hpp"
