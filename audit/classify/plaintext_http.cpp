// HTTP/1.x (pipelined requests, chunked and Content-Length bodies, Upgrade and CONNECT) and HTTP/2
// in clear (prior knowledge or h2c upgrade), with gRPC recognised from HEADERS.
#include <array>
#include <vector>

#include "audit/classify/hpack.hpp"
#include "audit/classify/plaintext_detail.hpp"

namespace meshproof::audit::plaintext_detail {
namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kMaxBody = 65536;          // body bytes kept for the secret scan
constexpr std::size_t kMaxHeaders = 256;         // header lines kept per message
constexpr std::size_t kMaxHeaderBlock = 262144;  // HEADERS + CONTINUATION bytes joined
constexpr std::size_t kMaxH2Frames = 4096;
constexpr std::size_t kMaxH2Streams = 64;

constexpr std::array<std::string_view, 19> kKnownMethods{
    "GET",  "POST",  "PUT",     "DELETE",   "HEAD",      "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE",   "LOCK",      "UNLOCK",  "REPORT", "SEARCH", "PURGE"};

bool known_method(std::string_view m) {
    for (std::string_view k : kKnownMethods) {
        if (k == m) return true;
    }
    return false;
}

struct RequestLine {
    std::string_view method;
    std::string_view target;
    std::string_view version;
};

bool is_http1_version(std::string_view v) {
    return v.size() == 8 && v.substr(0, 7) == "HTTP/1." && v[7] >= '0' && v[7] <= '9';
}

std::optional<RequestLine> parse_request_line(std::string_view line) {
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 24) return std::nullopt;
    const std::size_t sp2 = line.rfind(' ');
    if (sp2 == sp1) return std::nullopt;
    RequestLine r{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1), line.substr(sp2 + 1)};
    for (char c : r.method) {
        if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return std::nullopt;
    }
    if (r.target.empty() || r.target.find(' ') != std::string_view::npos || !is_printable_text(r.target)) {
        return std::nullopt;
    }
    if (!is_http1_version(r.version)) return std::nullopt;
    return r;
}

struct StatusLine {
    std::string_view version;
    int status = 0;
    std::string_view reason;
};

std::optional<StatusLine> parse_status_line(std::string_view line) {
    if (line.size() < 12 || !is_http1_version(line.substr(0, 8)) || line[8] != ' ') return std::nullopt;
    const std::string_view code = line.substr(9, 3);
    if (!all_digits(code) || (line.size() > 12 && line[12] != ' ')) return std::nullopt;
    StatusLine s{line.substr(0, 8), (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'), {}};
    if (line.size() > 13) s.reason = line.substr(13);
    return s;
}

struct Header {
    std::string_view name;
    std::string_view value;
};

struct Message {
    std::vector<Header> headers;
    std::size_t body_begin = 0;
    std::string body;
    bool body_complete = false;
    std::size_t end = 0;  // offset just after the message (or the end of the buffer when cut)
};

std::optional<std::string_view> find_header(const Message& m, std::string_view name) {
    for (const Header& h : m.headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return std::nullopt;
}

bool header_has_token(const Message& m, std::string_view name, std::string_view token) {
    for (const Header& h : m.headers) {
        if (!iequals(h.name, name)) continue;
        std::string_view v = h.value;
        while (!v.empty()) {
            const std::size_t comma = v.find(',');
            const std::string_view item = trim(v.substr(0, comma));
            if (iequals(item.substr(0, item.find('/')), token)) return true;
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return false;
}

ParseOutcome read_headers(std::string_view buf, std::size_t pos, Message& m) {
    while (true) {
        const std::optional<Line> line = read_line(buf, pos);
        if (!line) {
            m.end = buf.size();
            return buf.size() - pos >= kMaxLine ? ParseOutcome::TooLarge : ParseOutcome::NeedMore;
        }
        pos = line->next;
        if (line->text.empty()) {
            m.body_begin = pos;
            m.end = pos;
            return ParseOutcome::Ok;
        }
        if (line->text[0] == ' ' || line->text[0] == '\t') continue;  // obs-fold continuation
        const std::size_t colon = line->text.find(':');
        if (colon == std::string_view::npos || colon == 0) return ParseOutcome::Malformed;
        const std::string_view name = line->text.substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos || !is_printable_text(name)) {
            return ParseOutcome::Malformed;
        }
        if (m.headers.size() < kMaxHeaders) m.headers.push_back(Header{name, trim(line->text.substr(colon + 1))});
    }
}

void append_body(Message& m, std::string_view bytes) {
    const std::size_t room = kMaxBody - std::min(kMaxBody, m.body.size());
    m.body.append(bytes.substr(0, room));
}

ParseOutcome read_chunked(std::string_view buf, Message& m) {
    std::size_t pos = m.body_begin;
    while (true) {
        const std::optional<Line> line = read_line(buf, pos, 1024);
        if (!line) {
            m.end = buf.size();
            return buf.size() - pos >= 1024 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
        }
        const std::string_view size_text = trim(line->text.substr(0, line->text.find(';')));
        if (size_text.empty() || size_text.size() > 15) return ParseOutcome::Malformed;
        std::uint64_t size = 0;
        for (char c : size_text) {
            int v = -1;
            if (c >= '0' && c <= '9') v = c - '0';
            else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
            if (v < 0) return ParseOutcome::Malformed;
            size = size * 16 + static_cast<std::uint64_t>(v);
        }
        pos = line->next;
        if (size == 0) {
            m.body_complete = true;
            // Trailer fields, then the blank line.
            while (true) {
                const std::optional<Line> t = read_line(buf, pos);
                if (!t) {
                    m.end = buf.size();
                    return ParseOutcome::NeedMore;
                }
                pos = t->next;
                if (t->text.empty()) {
                    m.end = pos;
                    return ParseOutcome::Ok;
                }
            }
        }
        const std::size_t available = buf.size() - pos;
        if (available < size) {
            append_body(m, buf.substr(pos));
            m.end = buf.size();
            return ParseOutcome::NeedMore;
        }
        append_body(m, buf.substr(pos, static_cast<std::size_t>(size)));
        pos += static_cast<std::size_t>(size);
        const std::optional<Line> crlf = read_line(buf, pos, 2);
        if (!crlf) {
            m.end = buf.size();
            return buf.size() - pos >= 2 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
        }
        if (!crlf->text.empty()) return ParseOutcome::Malformed;
        pos = crlf->next;
    }
}

enum class BodyMode { None, Length, Chunked, UntilClose };

// How the body of a message is delimited (RFC 9112 6.3). Malformed: an unusable Content-Length.
ParseOutcome body_mode(const Message& m, bool is_response, BodyMode& mode, std::uint64_t& length) {
    if (header_has_token(m, "transfer-encoding", "chunked")) {
        mode = BodyMode::Chunked;
        return ParseOutcome::Ok;
    }
    if (const std::optional<std::string_view> cl = find_header(m, "content-length")) {
        const std::string_view first = trim(cl->substr(0, cl->find(',')));
        if (!all_digits(first) || first.size() > 15) return ParseOutcome::Malformed;
        length = 0;
        for (char c : first) length = length * 10 + static_cast<std::uint64_t>(c - '0');
        mode = BodyMode::Length;
        return ParseOutcome::Ok;
    }
    mode = is_response ? BodyMode::UntilClose : BodyMode::None;
    return ParseOutcome::Ok;
}

ParseOutcome read_body(std::string_view buf, Message& m, BodyMode mode, std::uint64_t length) {
    switch (mode) {
        case BodyMode::None:
            m.body_complete = true;
            m.end = m.body_begin;
            return ParseOutcome::Ok;
        case BodyMode::Length: {
            const std::size_t available = buf.size() - m.body_begin;
            if (available < length) {
                append_body(m, buf.substr(m.body_begin));
                m.end = buf.size();
                return ParseOutcome::NeedMore;
            }
            append_body(m, buf.substr(m.body_begin, static_cast<std::size_t>(length)));
            m.body_complete = true;
            m.end = m.body_begin + static_cast<std::size_t>(length);
            return ParseOutcome::Ok;
        }
        case BodyMode::Chunked: return read_chunked(buf, m);
        case BodyMode::UntilClose:
            append_body(m, buf.substr(m.body_begin));
            m.end = buf.size();
            return ParseOutcome::Ok;
    }
    return ParseOutcome::Ok;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

enum class BodyKind : std::uint8_t { Other, Json, Form, Grpc };

BodyKind body_kind(std::string_view content_type, std::string_view body) {
    if (contains_ci(content_type, "application/grpc")) return BodyKind::Grpc;
    if (contains_ci(content_type, "x-www-form-urlencoded")) return BodyKind::Form;
    if (contains_ci(content_type, "json")) return BodyKind::Json;
    if (content_type.empty()) {
        const std::string_view t = trim(body.substr(0, 64));
        if (!t.empty() && (t[0] == '{' || t[0] == '[')) return BodyKind::Json;
    }
    return BodyKind::Other;
}

void scan_body(BodyKind kind, std::string_view body, bool complete, Direction dir, PlaintextFacts& facts) {
    if (kind == BodyKind::Form) find_urlencoded_secrets(trim(body), dir, "form field", facts.secrets, complete);
    if (kind == BodyKind::Json) find_json_secrets(body, dir, facts.secrets);
}

void scan_message(const Message& m, Direction dir, PlaintextFacts& facts) {
    for (const Header& h : m.headers) find_header_secrets(h.name, h.value, dir, "HTTP", facts.secrets);
    if (m.body.empty()) return;
    // A compressed body is not readable without inflating it; we do not.
    if (const std::optional<std::string_view> enc = find_header(m, "content-encoding")) {
        if (!enc->empty() && !iequals(*enc, "identity")) return;
    }
    const std::string_view ct = find_header(m, "content-type").value_or(std::string_view{});
    scan_body(body_kind(ct, m.body), m.body, m.body_complete, dir, facts);
}

std::string host_of_target(std::string_view target) {
    const std::size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) return {};
    std::string_view authority = target.substr(scheme + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    return std::string(authority);
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 frames

constexpr std::uint8_t kFrameData = 0, kFrameHeaders = 1, kFrameSettings = 4, kFramePushPromise = 5,
                       kFrameContinuation = 9;
constexpr std::uint8_t kFlagEndStream = 0x1, kFlagAck = 0x1, kFlagEndHeaders = 0x4, kFlagPadded = 0x8,
                       kFlagPriority = 0x20;

struct H2Stream {
    std::uint32_t id = 0;
    Direction dir = Direction::ClientToServer;
    BodyKind kind = BodyKind::Other;
};

struct H2Connection {
    std::array<HpackDecoder, 2> decoders{};
    std::array<bool, 2> hpack_failed{false, false};
    std::vector<H2Stream> streams;
    bool grpc = false;
    bool request_seen = false;
    bool response_seen = false;
};

BodyKind stream_kind(const H2Connection& c, std::uint32_t id, Direction dir) {
    for (const H2Stream& s : c.streams) {
        if (s.id == id && s.dir == dir) return s.kind;
    }
    return BodyKind::Other;
}

void process_header_block(Bytes block, Direction dir, std::uint32_t stream, H2Connection& conn,
                          PlaintextFacts& facts) {
    const std::size_t d = index(dir);
    if (conn.hpack_failed[d]) return;
    std::vector<HpackHeader> headers;
    const ParseOutcome o = conn.decoders[d].decode(block, headers);
    record(facts, "hpack", dir, o);
    if (o != ParseOutcome::Ok) conn.hpack_failed[d] = true;  // later blocks depend on a table we lost

    std::string_view method, path, authority, status, content_type, host;
    for (const HpackHeader& h : headers) {
        const std::string_view name = h.name;
        if (name == ":method") method = h.value;
        else if (name == ":path") path = h.value;
        else if (name == ":authority") authority = h.value;
        else if (name == ":status") status = h.value;
        else if (!name.empty() && name[0] != ':') {
            if (name == "content-type") content_type = h.value;
            if (name == "host") host = h.value;
            find_header_secrets(name, h.value, dir, "HTTP/2", facts.secrets);
        }
    }
    if (!path.empty()) find_target_secrets(path, dir, facts.secrets);

    // The first request of the flow names it; after an h2c upgrade that is the HTTP/1.1 request.
    if (dir == Direction::ClientToServer && !method.empty() && !conn.request_seen && !facts.http_method) {
        conn.request_seen = true;
        facts.http_method = std::string(method);
        facts.http_path = redact_target(path);
        if (!authority.empty()) facts.http_host = std::string(authority);
        else if (!host.empty()) facts.http_host = std::string(host);
        set_first_line(facts, std::string(method) + " " + *facts.http_path + " HTTP/2");
        std::string e = "HTTP/2 HEADERS stream " + std::to_string(stream) + ": " + std::string(method) + " " +
                        printable_excerpt(*facts.http_path, kEvidenceText);
        if (!authority.empty()) e += " (:authority " + printable_excerpt(authority, 60) + ")";
        add_evidence(facts, std::move(e));
    }
    if (dir == Direction::ServerToClient && !status.empty() && !conn.response_seen) {
        conn.response_seen = true;
        if (all_digits(status) && status.size() == 3 && (!facts.http_status || *facts.http_status == 101)) {
            facts.http_status = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
        }
        add_evidence(facts, "HTTP/2 response :status " + printable_excerpt(status, 8) + " on stream " +
                                std::to_string(stream));
    }
    if (!content_type.empty()) {
        const BodyKind kind = body_kind(content_type, {});
        if (kind == BodyKind::Grpc && !conn.grpc) {
            conn.grpc = true;
            add_evidence(facts, "gRPC: HEADERS carry content-type " + printable_excerpt(content_type, 60) +
                                    " on stream " + std::to_string(stream));
        }
        if (conn.streams.size() < kMaxH2Streams) conn.streams.push_back(H2Stream{stream, dir, kind});
    }
}

// Drops the padding (and the priority fields of HEADERS) around a frame's fragment.
bool frame_fragment(ByteReader payload, std::uint8_t flags, std::size_t skip_after_pad, Bytes& fragment) {
    std::uint8_t pad = 0;
    if ((flags & kFlagPadded) && !payload.u8(pad)) return false;
    if (!payload.skip(skip_after_pad)) return false;
    if (pad > payload.remaining()) return false;
    return payload.bytes(payload.remaining() - pad, fragment);
}

// Walks the frames of one direction (after the client preface, or from the server's first byte,
// which must be a SETTINGS frame). frames counts the complete frames seen.
ParseOutcome walk_h2_frames(Bytes data, Direction dir, H2Connection& conn, PlaintextFacts& facts,
                            std::size_t& frames) {
    ByteReader r(data);
    std::vector<std::uint8_t> block;
    bool in_block = false;
    std::uint32_t block_stream = 0;
    frames = 0;
    while (!r.empty()) {
        if (frames >= kMaxH2Frames) return ParseOutcome::Ok;
        std::uint32_t length = 0, stream = 0;
        std::uint8_t type = 0, flags = 0;
        ByteReader payload;
        ByteReader probe = r;
        if (!probe.u24(length) || !probe.u8(type) || !probe.u8(flags) || !probe.u32(stream)) return ParseOutcome::NeedMore;
        stream &= 0x7fffffffu;
        if (!probe.child(length, payload)) {
            // The first frame is checked even when cut, so garbage is not taken for a cut frame.
            if (frames == 0 && type != kFrameSettings) return ParseOutcome::NotThisProtocol;
            return ParseOutcome::NeedMore;
        }
        r = probe;
        if (frames == 0 && type != kFrameSettings) return ParseOutcome::NotThisProtocol;
        ++frames;
        if (in_block && type != kFrameContinuation) return ParseOutcome::Malformed;
        switch (type) {
            case kFrameSettings:
                if (stream != 0) return ParseOutcome::Malformed;
                if ((flags & kFlagAck) ? length != 0 : length % 6 != 0) return ParseOutcome::Malformed;
                break;
            case kFrameHeaders:
            case kFramePushPromise: {
                if (stream == 0) return ParseOutcome::Malformed;
                const std::size_t skip = type == kFramePushPromise ? 4 : ((flags & kFlagPriority) ? 5 : 0);
                Bytes fragment;
                if (!frame_fragment(payload, flags, skip, fragment)) return ParseOutcome::Malformed;
                if (flags & kFlagEndHeaders) {
                    process_header_block(fragment, dir, stream, conn, facts);
                } else {
                    block.assign(fragment.begin(), fragment.end());
                    in_block = true;
                    block_stream = stream;
                }
                break;
            }
            case kFrameContinuation: {
                if (!in_block || stream != block_stream) return ParseOutcome::Malformed;
                const Bytes more = payload.rest();
                if (block.size() + more.size() > kMaxHeaderBlock) return ParseOutcome::TooLarge;
                block.insert(block.end(), more.begin(), more.end());
                if (flags & kFlagEndHeaders) {
                    process_header_block(block, dir, block_stream, conn, facts);
                    in_block = false;
                }
                break;
            }
            case kFrameData: {
                if (stream == 0) return ParseOutcome::Malformed;
                Bytes data_bytes;
                if (!frame_fragment(payload, flags, 0, data_bytes)) return ParseOutcome::Malformed;
                const BodyKind kind = stream_kind(conn, stream, dir);
                scan_body(kind, as_text(data_bytes), (flags & kFlagEndStream) != 0, dir, facts);
                break;
            }
            default: break;  // PRIORITY, RST_STREAM, PING, GOAWAY, WINDOW_UPDATE, extensions
        }
    }
    return in_block ? ParseOutcome::NeedMore : ParseOutcome::Ok;
}

bool starts_with_preface(Bytes b) { return as_text(b).substr(0, kH2Preface.size()) == kH2Preface; }

// min_size: how much of the preface makes it recognisable on its own ("PRI " and on); after an
// Upgrade: h2c any prefix will do.
bool is_cut_preface(Bytes b, std::size_t min_size = 4) {
    return b.size() >= min_size && b.size() < kH2Preface.size() && kH2Preface.substr(0, b.size()) == as_text(b);
}

// Frames of both directions once HTTP/2 is established; c2s starts at the preface.
void analyze_h2_directions(Bytes c2s, Bytes s2c, PlaintextFacts& facts, H2Connection& conn) {
    if (starts_with_preface(c2s)) {
        facts.client_readable = true;
        std::size_t frames = 0;
        const ParseOutcome o = walk_h2_frames(c2s.subspan(kH2Preface.size()), Direction::ClientToServer, conn, facts, frames);
        record(facts, "http2", Direction::ClientToServer, o);
    } else if (is_cut_preface(c2s, 1)) {
        record(facts, "http2", Direction::ClientToServer, ParseOutcome::NeedMore);
        add_evidence(facts, "HTTP/2 connection preface cut by the capture");
    } else if (!c2s.empty()) {
        record(facts, "http2", Direction::ClientToServer, ParseOutcome::Malformed);
    }
    if (!s2c.empty()) {
        std::size_t frames = 0;
        const ParseOutcome o = walk_h2_frames(s2c, Direction::ServerToClient, conn, facts, frames);
        record(facts, "http2", Direction::ServerToClient, o);
        if (frames > 0) {
            facts.server_readable = true;
            add_evidence(facts, "server HTTP/2 SETTINGS frame (" + std::to_string(frames) + " frames parsed)");
        }
    }
    if (conn.grpc) facts.protocol = "grpc";
}

bool plausible_cut_request(std::string_view text) {
    const std::size_t sp = text.find(' ');
    if (sp == std::string_view::npos || !known_method(text.substr(0, sp))) return false;
    const std::string_view head = text.substr(0, kMaxLine);
    return is_printable_text(head.substr(0, head.find('\r')));
}

}  // namespace

Sniff sniff_http1(const Flow& f) {
    Sniff s;
    const std::string_view c = as_text(f.c2s);
    if (const std::optional<Line> line = read_line(c, 0)) {
        if (parse_request_line(line->text)) s.client = 3;
    } else if (plausible_cut_request(c)) {
        s.client = 2;
    }
    const std::string_view sv = as_text(f.s2c);
    if (const std::optional<Line> line = read_line(sv, 0)) {
        if (parse_status_line(line->text)) s.server = 3;
    } else if (sv.size() >= 7 && sv.rfind("HTTP/1.", 0) == 0) {
        s.server = 2;
    }
    return s;
}

bool analyze_http1(const Flow& f, PlaintextFacts& facts) {
    const std::string_view c = as_text(f.c2s);
    const std::string_view sv = as_text(f.s2c);
    facts.protocol = "http";

    // ---- requests ----
    std::vector<std::string_view> methods;
    std::optional<std::size_t> h2c_offset, connect_offset;
    bool websocket_requested = false;
    std::string connect_target;
    ParseOutcome client_outcome = ParseOutcome::Ok;
    std::size_t pos = 0;
    while (pos < c.size() && methods.size() < kMaxMessages) {
        const std::optional<Line> line = read_line(c, pos);
        if (!line) {
            client_outcome = c.size() - pos >= kMaxLine ? ParseOutcome::TooLarge : ParseOutcome::NeedMore;
            if (methods.empty() && plausible_cut_request(c)) {
                add_evidence(facts, "HTTP request line cut by the capture: " + printable_excerpt(c.substr(0, c.find(' ')), 16));
            } else if (methods.empty()) {
                client_outcome = ParseOutcome::NotThisProtocol;
            }
            break;
        }
        const std::optional<RequestLine> rl = parse_request_line(line->text);
        if (!rl) {
            client_outcome = methods.empty() ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
            break;
        }
        methods.push_back(rl->method);
        find_target_secrets(rl->target, Direction::ClientToServer, facts.secrets);
        Message m;
        ParseOutcome o = read_headers(c, line->next, m);
        if (methods.size() == 1) {
            const std::string path = redact_target(rl->target);
            facts.http_method = std::string(rl->method);
            facts.http_path = path;
            set_first_line(facts, std::string(rl->method) + " " + path + " " + std::string(rl->version));
            if (const std::optional<std::string_view> host = find_header(m, "host")) {
                facts.http_host = std::string(*host);
            } else if (std::string h = host_of_target(rl->target); !h.empty()) {
                facts.http_host = std::move(h);
            }
            std::string e = std::string(rl->version) + " request " + std::string(rl->method) + " " +
                            printable_excerpt(path, kEvidenceText);
            if (facts.http_host) e += " (Host " + printable_excerpt(*facts.http_host, 60) + ")";
            add_evidence(facts, std::move(e));
        }
        if (o == ParseOutcome::Ok) {
            BodyMode mode = BodyMode::None;
            std::uint64_t length = 0;
            o = body_mode(m, false, mode, length);
            if (o == ParseOutcome::Ok) o = read_body(c, m, mode, length);
        }
        scan_message(m, Direction::ClientToServer, facts);
        if (o != ParseOutcome::Ok) {
            client_outcome = o;
            break;
        }
        pos = m.end;
        if (rl->method == "CONNECT") {
            connect_offset = pos;
            connect_target = std::string(rl->target);
            break;  // what follows is the tunnel
        }
        if (header_has_token(m, "upgrade", "h2c")) {
            h2c_offset = pos;
            if (starts_with_preface(f.c2s.subspan(pos)) || is_cut_preface(f.c2s.subspan(pos))) break;
        }
        if (header_has_token(m, "upgrade", "websocket")) websocket_requested = true;
    }
    if (!c.empty()) record(facts, "http1", Direction::ClientToServer, client_outcome);
    facts.client_readable = !methods.empty();
    if (methods.size() > 1) {
        add_evidence(facts, std::to_string(methods.size()) + " HTTP/1.x requests in the captured client bytes");
    }

    // ---- responses ----
    std::size_t responses = 0, answered = 0;
    std::optional<std::size_t> h2c_s2c_offset, tunnel_s2c_offset;
    ParseOutcome server_outcome = ParseOutcome::Ok;
    pos = 0;
    while (pos < sv.size() && responses < kMaxMessages) {
        const std::optional<Line> line = read_line(sv, pos);
        if (!line) {
            server_outcome = responses == 0 && sv.rfind("HTTP/1.", 0) != 0 ? ParseOutcome::NotThisProtocol
                                                                          : ParseOutcome::NeedMore;
            break;
        }
        const std::optional<StatusLine> sl = parse_status_line(line->text);
        if (!sl) {
            server_outcome = responses == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
            break;
        }
        ++responses;
        Message m;
        ParseOutcome o = read_headers(sv, line->next, m);
        const bool informational = sl->status >= 100 && sl->status < 200;
        if (!facts.http_status || (*facts.http_status < 200 && *facts.http_status != 101 && !informational)) {
            facts.http_status = sl->status;
        }
        if (responses == 1) {
            add_evidence(facts, std::string(sl->version) + " response " + std::to_string(sl->status) + " " +
                                    printable_excerpt(sl->reason, 60));
            if (facts.first_line.empty()) set_first_line(facts, line->text);
        }
        const std::string_view method = answered < methods.size() ? methods[answered] : std::string_view{};
        if (o == ParseOutcome::Ok) {
            BodyMode mode = BodyMode::None;
            std::uint64_t length = 0;
            if (informational || sl->status == 204 || sl->status == 304 || method == "HEAD" ||
                (method == "CONNECT" && sl->status < 300)) {
                mode = BodyMode::None;
            } else {
                o = body_mode(m, true, mode, length);
            }
            if (o == ParseOutcome::Ok) o = read_body(sv, m, mode, length);
        }
        scan_message(m, Direction::ServerToClient, facts);
        if (o != ParseOutcome::Ok) {
            server_outcome = o;
            break;
        }
        pos = m.end;
        if (sl->status == 101) {
            if (header_has_token(m, "upgrade", "h2c")) h2c_s2c_offset = pos;
            if (header_has_token(m, "upgrade", "websocket")) {
                add_evidence(facts, "HTTP/1.1 Upgrade: websocket answered 101 (WebSocket frames follow)");
            }
            break;  // the rest is another protocol
        }
        if (method == "CONNECT" && sl->status >= 200 && sl->status < 300) {
            tunnel_s2c_offset = pos;
            break;
        }
        if (!informational) ++answered;
    }
    if (!sv.empty()) record(facts, "http1", Direction::ServerToClient, server_outcome);
    facts.server_readable = responses > 0;
    if (websocket_requested && !h2c_s2c_offset) add_evidence(facts, "client asked for Upgrade: websocket");

    // ---- h2c upgrade: HTTP/2 frames after the 101 (server) and after the request (client) ----
    const bool client_h2 = h2c_offset && (starts_with_preface(f.c2s.subspan(*h2c_offset)) ||
                                          is_cut_preface(f.c2s.subspan(*h2c_offset)));
    if (h2c_offset && (h2c_s2c_offset || client_h2)) {
        facts.protocol = "h2c";
        add_evidence(facts, h2c_s2c_offset ? "HTTP/1.1 Upgrade: h2c answered 101 Switching Protocols"
                                           : "HTTP/1.1 Upgrade: h2c followed by the HTTP/2 preface");
        H2Connection conn;
        const Bytes c2s_h2 = f.c2s.subspan(*h2c_offset);
        const Bytes s2c_h2 = h2c_s2c_offset ? f.s2c.subspan(*h2c_s2c_offset) : Bytes{};
        const bool server_was_readable = facts.server_readable;
        analyze_h2_directions(c2s_h2, s2c_h2, facts, conn);
        facts.server_readable = facts.server_readable || server_was_readable;
        facts.client_readable = true;
    }

    // ---- CONNECT tunnel: the caller checks whether the tunnelled bytes are TLS ----
    if (connect_offset) {
        add_evidence(facts, "HTTP CONNECT tunnel to " + printable_excerpt(connect_target, 80));
        if (*connect_offset < f.c2s.size()) {
            facts.tls_upgrade = "http-connect";
            facts.upgrade_c2s_offset = connect_offset;
            facts.upgrade_s2c_offset = tunnel_s2c_offset;
        }
    }
    return facts.client_readable || facts.server_readable || plausible_cut_request(c) ||
           (methods.empty() && c.empty() && sv.rfind("HTTP/1.", 0) == 0);
}

Sniff sniff_h2_prior_knowledge(const Flow& f) {
    Sniff s;
    if (starts_with_preface(f.c2s)) s.client = 3;
    else if (is_cut_preface(f.c2s)) s.client = 2;
    // A server preface alone: SETTINGS on stream 0 with a whole number of parameters.
    ByteReader r(f.s2c);
    std::uint32_t length = 0, stream = 0;
    std::uint8_t type = 0, flags = 0;
    if (r.u24(length) && r.u8(type) && r.u8(flags) && r.u32(stream) && type == kFrameSettings && flags == 0 &&
        stream == 0 && length % 6 == 0 && length <= 120) {
        s.server = 1;
    }
    return s;
}

bool analyze_h2_prior_knowledge(const Flow& f, PlaintextFacts& facts) {
    const bool client_h2 = starts_with_preface(f.c2s) || is_cut_preface(f.c2s);
    if (!client_h2 && !f.c2s.empty()) return false;
    facts.protocol = "h2c";
    if (starts_with_preface(f.c2s)) add_evidence(facts, "HTTP/2 connection preface in clear (prior knowledge, no TLS)");
    H2Connection conn;
    analyze_h2_directions(f.c2s, f.s2c, facts, conn);
    return client_h2 || facts.server_readable;
}

}  // namespace meshproof::audit::plaintext_detail
