// Placeholder until the identity implementation lands.
#include "proto/identity.hpp"
