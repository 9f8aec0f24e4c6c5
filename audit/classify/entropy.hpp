// Byte statistics that tell encrypted or compressed payloads from readable ones, without parsing.
// Used when no parser recognised a flow: "high entropy, not printable" is the encrypted-unknown hint.
#pragma once

#include "common/byte_reader.hpp"

namespace meshproof::audit {

// Shannon entropy of the byte histogram in bits per byte (0 for an empty input, at most 8).
double shannon_entropy(Bytes data);

// Share of bytes that are printable ASCII or \t \r \n (0 for an empty input).
double printable_ratio(Bytes data);

// At least 90% printable: a text protocol we may not know by name.
bool looks_printable_text(Bytes data);

// At least 64 bytes, entropy close to what uniformly random bytes of that length reach, and not
// printable-dominated (base64 is high-entropy text, not ciphertext). Compressed data also passes.
bool looks_encrypted(Bytes data);

}  // namespace meshproof::audit
