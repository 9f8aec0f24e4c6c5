// JA3 and JA4 client fingerprints computed from a parsed ClientHello (TlsClientHello).
// JA3 (Salesforce): "version,ciphers,extensions,groups,point_formats" in decimal, '-' within a field,
// GREASE removed, then md5.
// JA4 (FoxIO, technical_details/JA4.md): "t" + version + d/i + cipher count + extension count + ALPN
// first/last char, "_", sha256[:12] of sorted ciphers, "_", sha256[:12] of sorted extensions (without
// SNI and ALPN) followed by "_" + signature algorithms in original order.
#pragma once

#include <string>
#include <string_view>

#include "audit/classify/tls_facts.hpp"

namespace meshproof::audit {

std::string ja3_string(const TlsClientHello& hello);
std::string ja3_hash(std::string_view ja3_text);  // md5 hex of the string

std::string ja4(const TlsClientHello& hello);
// The un-hashed forms from the spec: ja4_r (sorted lists) and ja4_ro (original order, SNI/ALPN kept).
std::string ja4_raw(const TlsClientHello& hello, bool original_order = false);
// ja4_o: hashed like ja4 but over the original-order lists (SNI and ALPN kept).
std::string ja4_original(const TlsClientHello& hello);

// The pieces, exposed for tests and for evidence output.
std::string ja4_version_code(const TlsClientHello& hello);  // "13", "12", ..., "s3", "s2", "00"
std::string ja4_alpn_code(std::string_view first_alpn);     // "h2", "h1", "00", hex rule for non-alnum

}  // namespace meshproof::audit
