// Binary and banner protocols: DNS over TCP, MQTT, SSH, SOCKS 4/5.
#include <array>
#include <cstdio>
#include <vector>

#include "audit/classify/plaintext_detail.hpp"

namespace meshproof::audit::plaintext_detail {
namespace {

// ---------------------------------------------------------------------------------------------
// DNS over TCP (RFC 1035 4.2.2, RFC 7766): two-byte length, then a DNS message.

struct DnsMessage {
    std::uint16_t id = 0;
    bool response = false;
    std::uint8_t opcode = 0;
    std::uint8_t rcode = 0;
    std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    std::string qname;
    std::uint16_t qtype = 0, qclass = 0;
};

// A domain name at offset pos of msg (compression pointers must point backwards).
ParseOutcome read_dns_name(Bytes msg, std::size_t pos, std::string& name, std::size_t& end) {
    name.clear();
    std::size_t p = pos;
    bool jumped = false;
    int jumps = 0;
    std::size_t total = 0;
    while (true) {
        if (p >= msg.size()) return ParseOutcome::NeedMore;
        const std::uint8_t len = msg[p];
        if ((len & 0xc0) == 0xc0) {
            if (p + 1 >= msg.size()) return ParseOutcome::NeedMore;
            const std::size_t target = static_cast<std::size_t>(((len & 0x3f) << 8) | msg[p + 1]);
            if (target >= p || ++jumps > 16) return ParseOutcome::Malformed;
            if (!jumped) end = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (len & 0xc0) return ParseOutcome::Malformed;  // 0x40/0x80 label types are obsolete
        if (len == 0) {
            if (!jumped) end = p + 1;
            if (name.empty()) name = ".";
            return ParseOutcome::Ok;
        }
        if (p + 1 + len > msg.size()) return ParseOutcome::NeedMore;
        total += len + 1u;
        if (total > 255) return ParseOutcome::Malformed;
        if (!name.empty()) name.push_back('.');
        for (std::size_t i = 0; i < len; ++i) {
            const std::uint8_t ch = msg[p + 1 + i];
            if (ch <= 0x20 || ch >= 0x7f) return ParseOutcome::Malformed;  // host names are printable
            name.push_back(static_cast<char>(ch));
        }
        p += 1u + len;
    }
}

// Header and first question of one message (msg excludes the TCP length prefix; it may be cut).
ParseOutcome parse_dns_message(Bytes msg, DnsMessage& out) {
    ByteReader r(msg);
    std::uint16_t flags = 0;
    if (!r.u16(out.id) || !r.u16(flags) || !r.u16(out.qdcount) || !r.u16(out.ancount) || !r.u16(out.nscount) ||
        !r.u16(out.arcount)) {
        return ParseOutcome::NeedMore;
    }
    out.response = (flags & 0x8000) != 0;
    out.opcode = static_cast<std::uint8_t>((flags >> 11) & 0xf);
    out.rcode = static_cast<std::uint8_t>(flags & 0xf);
    // Query, inverse query, status, notify, update; exactly one question in practice.
    if (out.opcode == 3 || out.opcode > 5) return ParseOutcome::NotThisProtocol;
    if (out.qdcount != 1 || out.ancount > 512 || out.nscount > 512 || out.arcount > 512) return ParseOutcome::NotThisProtocol;
    if (!out.response && (out.ancount > 16 || out.rcode != 0) && out.opcode == 0) return ParseOutcome::NotThisProtocol;
    std::size_t end = 0;
    if (const ParseOutcome o = read_dns_name(msg, 12, out.qname, end); o != ParseOutcome::Ok) return o;
    ByteReader q(msg.subspan(end));
    if (!q.u16(out.qtype) || !q.u16(out.qclass)) return ParseOutcome::NeedMore;
    const std::uint16_t cls = out.qclass & 0x7fff;  // mDNS reuses the top bit
    if (out.qtype == 0 || !(cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255)) return ParseOutcome::Malformed;
    return ParseOutcome::Ok;
}

std::string dns_type_name(std::uint16_t t) {
    switch (t) {
        case 1: return "A";
        case 2: return "NS";
        case 5: return "CNAME";
        case 6: return "SOA";
        case 12: return "PTR";
        case 15: return "MX";
        case 16: return "TXT";
        case 28: return "AAAA";
        case 33: return "SRV";
        case 43: return "DS";
        case 48: return "DNSKEY";
        case 64: return "SVCB";
        case 65: return "HTTPS";
        case 251: return "IXFR";
        case 252: return "AXFR";
        case 255: return "ANY";
        case 257: return "CAA";
        default: return "TYPE" + std::to_string(t);
    }
}

std::string dns_rcode_name(std::uint8_t r) {
    static constexpr std::array<std::string_view, 6> kNames{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
    return r < kNames.size() ? std::string(kNames[r]) : "RCODE" + std::to_string(r);
}

struct DnsWalk {
    std::size_t messages = 0;
    ParseOutcome outcome = ParseOutcome::Ok;
    std::optional<DnsMessage> first;
};

DnsWalk walk_dns(Bytes data, bool want_response) {
    DnsWalk w;
    ByteReader r(data);
    while (!r.empty() && w.messages < kMaxMessages) {
        ByteReader probe = r;
        std::uint16_t len = 0;
        if (!probe.u16(len)) {
            w.outcome = ParseOutcome::NeedMore;
            break;
        }
        if (len < 12 + 5) {
            w.outcome = w.messages == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
            break;
        }
        const Bytes available = probe.rest().first(std::min<std::size_t>(len, probe.remaining()));
        DnsMessage m;
        ParseOutcome o = parse_dns_message(available, m);
        if (o == ParseOutcome::Ok && m.response != want_response) o = ParseOutcome::NotThisProtocol;
        if (o == ParseOutcome::NeedMore && available.size() == len) o = ParseOutcome::Malformed;
        if (o != ParseOutcome::Ok) {
            w.outcome = (w.messages > 0 && o == ParseOutcome::NotThisProtocol) ? ParseOutcome::Malformed : o;
            break;
        }
        if (!w.first) w.first = m;
        ++w.messages;
        if (!probe.skip(len)) {
            w.outcome = ParseOutcome::NeedMore;  // message cut after its question
            break;
        }
        r = probe;
    }
    return w;
}

// ---------------------------------------------------------------------------------------------
// MQTT 3.1 / 3.1.1 / 5.0

bool read_varint(ByteReader& r, std::uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
        std::uint8_t b = 0;
        if (!r.u8(b)) return false;
        v |= static_cast<std::uint32_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) return true;
    }
    return false;
}

bool read_mqtt_string(ByteReader& r, Bytes& out) {
    std::uint16_t len = 0;
    ByteReader probe = r;
    if (!probe.u16(len) || !probe.bytes(len, out)) return false;
    r = probe;
    return true;
}

struct MqttPacket {
    std::uint8_t type = 0;
    std::uint8_t flags = 0;
    Bytes body;
};

// Fixed header flags are fixed for every type but PUBLISH (MQTT 3.1.1 2.2.2).
bool mqtt_flags_valid(std::uint8_t type, std::uint8_t flags) {
    if (type == 3) return (flags & 0x6) != 0x6;  // QoS 3 does not exist
    if (type == 6 || type == 8 || type == 10) return flags == 0x2;
    return flags == 0;
}

ParseOutcome read_mqtt_packet(ByteReader& r, MqttPacket& p) {
    ByteReader probe = r;
    std::uint8_t b0 = 0;
    if (!probe.u8(b0)) return ParseOutcome::NeedMore;
    p.type = static_cast<std::uint8_t>(b0 >> 4);
    p.flags = static_cast<std::uint8_t>(b0 & 0xf);
    if (p.type == 0 || !mqtt_flags_valid(p.type, p.flags)) return ParseOutcome::NotThisProtocol;
    std::uint32_t len = 0;
    ByteReader len_probe = probe;
    if (!read_varint(len_probe, len)) return probe.remaining() >= 4 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
    probe = len_probe;
    if (!probe.bytes(len, p.body)) return ParseOutcome::NeedMore;
    r = probe;
    return ParseOutcome::Ok;
}

struct MqttConnect {
    std::string_view protocol;
    std::uint8_t level = 0;
    std::string_view client_id;
    std::optional<std::string_view> username;
    std::optional<std::string_view> password;
};

ParseOutcome parse_mqtt_connect(Bytes body, MqttConnect& c) {
    ByteReader r(body);
    Bytes name;
    if (!read_mqtt_string(r, name)) return ParseOutcome::NeedMore;
    c.protocol = as_text(name);
    if (c.protocol != "MQTT" && c.protocol != "MQIsdp") return ParseOutcome::NotThisProtocol;
    std::uint8_t flags = 0;
    std::uint16_t keepalive = 0;
    if (!r.u8(c.level) || !r.u8(flags) || !r.u16(keepalive)) return ParseOutcome::Malformed;
    if ((flags & 0x1) || c.level < 3 || c.level > 5) return ParseOutcome::Malformed;
    auto skip_properties = [&]() {
        std::uint32_t plen = 0;
        return read_varint(r, plen) && r.skip(plen);
    };
    if (c.level == 5 && !skip_properties()) return ParseOutcome::Malformed;
    Bytes field;
    if (!read_mqtt_string(r, field)) return ParseOutcome::Malformed;
    c.client_id = as_text(field);
    if (flags & 0x04) {  // will message
        if (c.level == 5 && !skip_properties()) return ParseOutcome::Malformed;
        if (!read_mqtt_string(r, field) || !read_mqtt_string(r, field)) return ParseOutcome::Malformed;
    }
    if (flags & 0x80) {
        if (!read_mqtt_string(r, field)) return ParseOutcome::Malformed;
        c.username = as_text(field);
    }
    if (flags & 0x40) {
        if (!read_mqtt_string(r, field)) return ParseOutcome::Malformed;
        c.password = as_text(field);
    }
    return ParseOutcome::Ok;
}

constexpr std::array<std::string_view, 16> kMqttTypes{
    "RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
    "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"};

std::string connack_meaning(std::uint8_t code) {
    switch (code) {
        case 0: return "accepted";
        case 4: case 0x86: return "bad user name or password";
        case 5: case 0x87: return "not authorized";
        default: return "refused";
    }
}

// ---------------------------------------------------------------------------------------------
// SSH (RFC 4253 4.2): the server may send other lines before its identification string.

struct SshBanner {
    std::string_view line;
    std::size_t end = 0;
};

std::optional<SshBanner> find_ssh_banner(std::string_view text, bool allow_preamble, bool& cut) {
    cut = false;
    std::size_t pos = 0;
    for (int i = 0; i < (allow_preamble ? 8 : 1); ++i) {
        const std::optional<Line> line = read_line(text, pos, 255);
        if (!line) {
            // Cut inside the identification string itself ("SSH-2.0-Open"), or even inside "SSH-".
            const std::string_view rest = text.substr(std::min(pos, text.size()));
            constexpr std::string_view kPrefix = "SSH-";
            cut = !rest.empty() && rest.size() < 255 &&
                  rest.substr(0, kPrefix.size()) == kPrefix.substr(0, std::min(kPrefix.size(), rest.size()));
            return std::nullopt;
        }
        if (line->text.rfind("SSH-", 0) == 0 && is_printable_text(line->text)) return SshBanner{line->text, line->next};
        if (!is_printable_text(line->text)) return std::nullopt;
        pos = line->next;
    }
    return std::nullopt;
}

// A binary packet right after the banner: length, padding, message code.
std::optional<std::uint8_t> ssh_first_message(Bytes after) {
    ByteReader r(after);
    std::uint32_t len = 0;
    std::uint8_t pad = 0, code = 0;
    if (!r.u32(len) || !r.u8(pad) || !r.u8(code)) return std::nullopt;
    if (len < 12 || len > 35000 || pad < 4 || pad >= len) return std::nullopt;
    return code;
}

// ---------------------------------------------------------------------------------------------
// SOCKS

bool socks5_method_valid(std::uint8_t m) { return m <= 0x09 || (m >= 0x80 && m <= 0xfe); }

// SOCKS5 address (ATYP + address + port) rendered "host:port".
bool read_socks5_address(ByteReader& r, std::string& out) {
    std::uint8_t atyp = 0;
    if (!r.u8(atyp)) return false;
    if (atyp == 1) {
        Bytes a;
        if (!r.bytes(4, a)) return false;
        out = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." + std::to_string(a[3]);
    } else if (atyp == 3) {
        ByteReader name;
        if (!r.prefixed8(name)) return false;
        out = printable_excerpt(name.as_string_view(), 255);
    } else if (atyp == 4) {
        Bytes a;
        if (!r.bytes(16, a)) return false;
        static constexpr char kHex[] = "0123456789abcdef";
        out = "[";
        for (std::size_t i = 0; i < 16; i += 2) {
            if (i) out += ':';
            out += kHex[a[i] >> 4];
            out += kHex[a[i] & 0xf];
            out += kHex[a[i + 1] >> 4];
            out += kHex[a[i + 1] & 0xf];
        }
        out += "]";
    } else {
        return false;
    }
    std::uint16_t port = 0;
    if (!r.u16(port)) return false;
    out += ":" + std::to_string(port);
    return true;
}

}  // namespace

// ---- DNS ----

Sniff sniff_dns(const Flow& f) {
    Sniff s;
    if (f.c2s.size() >= 2 + 12 + 5) {
        const DnsWalk w = walk_dns(f.c2s.first(std::min<std::size_t>(f.c2s.size(), 600)), false);
        if (w.first) s.client = 2;
    }
    if (f.s2c.size() >= 2 + 12 + 5) {
        const DnsWalk w = walk_dns(f.s2c.first(std::min<std::size_t>(f.s2c.size(), 600)), true);
        if (w.first) s.server = 2;
    }
    return s;
}

bool analyze_dns(const Flow& f, PlaintextFacts& facts) {
    const DnsWalk q = walk_dns(f.c2s, false);
    const DnsWalk a = walk_dns(f.s2c, true);
    if (!f.c2s.empty()) record(facts, "dns", Direction::ClientToServer, q.outcome);
    if (!f.s2c.empty()) record(facts, "dns", Direction::ServerToClient, a.outcome);
    if (!q.first && !a.first) return false;
    facts.protocol = "dns";
    facts.client_readable = q.first.has_value();
    facts.server_readable = a.first.has_value();
    if (q.first) {
        const DnsMessage& m = *q.first;
        const std::string summary = "query " + dns_type_name(m.qtype) + " " + printable_excerpt(m.qname, 120);
        set_first_line(facts, summary);
        char id[8];
        std::snprintf(id, sizeof id, "%04x", m.id);
        add_evidence(facts, "DNS " + summary + " (id 0x" + id + ", TCP length-prefixed)");
        if (m.qtype == 252 || m.qtype == 251) add_evidence(facts, "DNS zone transfer requested in clear");
        if (q.messages > 1) add_evidence(facts, std::to_string(q.messages) + " DNS queries in the captured client bytes");
    }
    if (a.first) {
        const DnsMessage& m = *a.first;
        set_first_line(facts, "response " + dns_type_name(m.qtype) + " " + printable_excerpt(m.qname, 120));
        add_evidence(facts, "DNS response " + dns_rcode_name(m.rcode) + ", " + std::to_string(m.ancount) +
                                " answers for " + printable_excerpt(m.qname, 120));
    }
    return true;
}

// ---- MQTT ----

Sniff sniff_mqtt(const Flow& f) {
    Sniff s;
    ByteReader r(f.c2s);
    MqttPacket p;
    const ParseOutcome o = read_mqtt_packet(r, p);
    if ((o == ParseOutcome::Ok || o == ParseOutcome::NeedMore) && p.type == 1 && f.c2s.size() >= 9) {
        // Enough of the variable header to see the protocol name, even in a cut packet.
        ByteReader hdr(f.c2s);
        hdr.skip(1);
        std::uint32_t len = 0;
        Bytes name;
        if (read_varint(hdr, len) && read_mqtt_string(hdr, name) &&
            (as_text(name) == "MQTT" || as_text(name) == "MQIsdp")) {
            s.client = 3;
        }
    } else if (o == ParseOutcome::Ok && (f.server_port == 1883 || f.server_port == 8883)) {
        s.client = 1;  // capture started mid-session: a well-formed packet on the MQTT port
    }
    if (f.s2c.size() >= 4 && f.s2c[0] == 0x20 && (f.s2c[1] == 2 || f.s2c[1] == 3) && f.s2c[2] <= 1) s.server = 1;
    return s;
}

bool analyze_mqtt(const Flow& f, PlaintextFacts& facts) {
    std::array<std::size_t, 16> counts{};
    bool connect_seen = false;
    std::string first_topic;
    // Client side.
    ByteReader r(f.c2s);
    std::size_t packets = 0;
    ParseOutcome co = ParseOutcome::Ok;
    while (!r.empty() && packets < kMaxMessages) {
        MqttPacket p;
        const ParseOutcome o = read_mqtt_packet(r, p);
        if (o != ParseOutcome::Ok) {
            // A cut CONNECT still shows its header; parse what is there.
            if (o == ParseOutcome::NeedMore && packets == 0 && !f.c2s.empty() && (f.c2s[0] >> 4) == 1) {
                ByteReader hdr(f.c2s);
                hdr.skip(1);
                std::uint32_t len = 0;
                if (read_varint(hdr, len)) {
                    MqttConnect c;
                    if (parse_mqtt_connect(hdr.rest(), c) != ParseOutcome::NotThisProtocol && !c.protocol.empty()) {
                        connect_seen = true;
                        add_evidence(facts, "MQTT CONNECT " + printable_excerpt(c.protocol, 10) + " (cut by the capture)");
                    }
                }
            }
            co = (packets == 0 && o == ParseOutcome::Malformed) ? ParseOutcome::NotThisProtocol : o;
            break;
        }
        if (packets == 0 && p.type != 1 && !(f.server_port == 1883 || f.server_port == 8883)) {
            co = ParseOutcome::NotThisProtocol;
            break;
        }
        ++counts[p.type];
        if (p.type == 1 && !connect_seen) {
            MqttConnect c;
            const ParseOutcome po = parse_mqtt_connect(p.body, c);
            if (po != ParseOutcome::Ok) {
                co = packets == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
                if (packets == 0) break;
            } else {
                connect_seen = true;
                std::string summary = "CONNECT " + std::string(c.protocol) + " level " + std::to_string(c.level) +
                                      " client_id=" + printable_excerpt(c.client_id, 60);
                if (c.username) summary += " user=" + printable_excerpt(*c.username, 40);
                set_first_line(facts, summary);
                add_evidence(facts, "MQTT " + summary);
                if (c.password) {
                    add_secret(facts.secrets, "mqtt-password", "MQTT CONNECT password", Direction::ClientToServer, *c.password);
                }
            }
        } else if (p.type == 3 && first_topic.empty()) {
            ByteReader b(p.body);
            Bytes topic;
            if (read_mqtt_string(b, topic)) first_topic = printable_excerpt(as_text(topic), 80);
        }
        ++packets;
    }
    if (!f.c2s.empty()) record(facts, "mqtt", Direction::ClientToServer, co);

    // Server side.
    ByteReader s(f.s2c);
    std::size_t server_packets = 0;
    ParseOutcome so = ParseOutcome::Ok;
    while (!s.empty() && server_packets < kMaxMessages) {
        MqttPacket p;
        const ParseOutcome o = read_mqtt_packet(s, p);
        if (o != ParseOutcome::Ok) {
            so = (server_packets == 0 && o == ParseOutcome::Malformed) ? ParseOutcome::NotThisProtocol : o;
            break;
        }
        if (server_packets == 0 && p.type != 2 && !(f.server_port == 1883 || f.server_port == 8883)) {
            so = ParseOutcome::NotThisProtocol;
            break;
        }
        if (p.type == 2 && p.body.size() >= 2) {
            add_evidence(facts, "MQTT CONNACK return code " + std::to_string(p.body[1]) + " (" + connack_meaning(p.body[1]) + ")");
        }
        ++server_packets;
    }
    if (!f.s2c.empty()) record(facts, "mqtt", Direction::ServerToClient, so);
    if (packets == 0 && !connect_seen && server_packets == 0) return false;
    facts.protocol = "mqtt";
    facts.client_readable = packets > 0 || connect_seen;
    facts.server_readable = server_packets > 0;
    if (!connect_seen && packets > 0) add_evidence(facts, "MQTT packets without CONNECT (capture started mid-session?)");
    std::string types;
    for (std::size_t t = 1; t < counts.size(); ++t) {
        if (counts[t] == 0) continue;
        if (!types.empty()) types += ", ";
        types += std::string(kMqttTypes[t]) + " x" + std::to_string(counts[t]);
    }
    if (!types.empty()) add_evidence(facts, "client MQTT packets: " + types);
    if (!first_topic.empty()) add_evidence(facts, "PUBLISH topic " + first_topic);
    if (facts.first_line.empty() && packets > 0) set_first_line(facts, "MQTT " + types);
    return true;
}

// ---- SSH ----

Sniff sniff_ssh(const Flow& f) {
    Sniff s;
    bool cut = false;
    if (find_ssh_banner(as_text(f.c2s), false, cut)) s.client = 3;
    else if (cut && f.c2s.size() >= 4) s.client = 2;
    if (find_ssh_banner(as_text(f.s2c), true, cut)) s.server = 3;
    else if (cut && f.s2c.size() >= 4) s.server = 2;
    return s;
}

bool analyze_ssh(const Flow& f, PlaintextFacts& facts) {
    bool client_cut = false, server_cut = false;
    const std::optional<SshBanner> client = find_ssh_banner(as_text(f.c2s), false, client_cut);
    const std::optional<SshBanner> server = find_ssh_banner(as_text(f.s2c), true, server_cut);
    if (!f.c2s.empty()) {
        record(facts, "ssh", Direction::ClientToServer,
               client ? ParseOutcome::Ok : client_cut ? ParseOutcome::NeedMore : ParseOutcome::NotThisProtocol);
    }
    if (!f.s2c.empty()) {
        record(facts, "ssh", Direction::ServerToClient,
               server ? ParseOutcome::Ok : server_cut ? ParseOutcome::NeedMore : ParseOutcome::NotThisProtocol);
    }
    if (!client && !server && !client_cut && !server_cut) return false;
    facts.protocol = "ssh";
    facts.client_readable = client.has_value();
    facts.server_readable = server.has_value();
    if (client) add_evidence(facts, "client banner " + printable_excerpt(client->line, kEvidenceText));
    if (server) add_evidence(facts, "server banner " + printable_excerpt(server->line, kEvidenceText));
    set_first_line(facts, client ? client->line : server ? server->line : std::string_view("SSH- (cut)"));
    facts.server_banner_only = server && !client;
    // After the identification strings SSH speaks its binary packet protocol: KEXINIT in clear,
    // everything after NEWKEYS encrypted.
    auto after_banner = [&](const std::optional<SshBanner>& banner, Bytes bytes, std::string_view who) {
        if (!banner || banner->end >= bytes.size()) return;
        facts.encrypted_after_banner = true;
        if (const std::optional<std::uint8_t> code = ssh_first_message(bytes.subspan(banner->end))) {
            add_evidence(facts, std::string(who) + (*code == 20 ? " SSH_MSG_KEXINIT after the banner (key exchange, then encrypted)"
                                                                : " binary SSH packet after the banner"));
        }
    };
    after_banner(client, f.c2s, "client");
    after_banner(server, f.s2c, "server");
    return true;
}

// ---- SOCKS ----

Sniff sniff_socks(const Flow& f) {
    Sniff s;
    const Bytes c = f.c2s;
    if (c.size() >= 3 && c[0] == 5 && c[1] >= 1 && c.size() >= 2u + c[1]) {
        bool ok = true;
        for (std::size_t i = 0; i < c[1]; ++i) ok = ok && socks5_method_valid(c[2 + i]);
        const std::size_t next = 2u + c[1];
        if (ok && (c.size() == next || c[next] == 5 || c[next] == 1)) s.client = 2;
    } else if (c.size() >= 9 && c[0] == 4 && (c[1] == 1 || c[1] == 2)) {
        const std::string_view user = as_text(c.subspan(8));
        const std::size_t nul = user.find('\0');
        if (nul != std::string_view::npos && nul < 256 && is_printable_text(user.substr(0, nul))) s.client = 2;
    }
    const Bytes sv = f.s2c;
    if (sv.size() >= 2 && sv[0] == 5 && (sv[1] <= 2 || sv[1] == 0xff)) s.server = 1;
    if (sv.size() >= 8 && sv[0] == 0 && sv[1] >= 0x5a && sv[1] <= 0x5d) s.server = 1;
    return s;
}

bool analyze_socks(const Flow& f, PlaintextFacts& facts) {
    ByteReader c(f.c2s);
    ByteReader s(f.s2c);
    std::uint8_t version = 0;
    if (!c.u8(version) || (version != 4 && version != 5)) return false;
    facts.protocol = "socks";
    std::string request;
    bool request_done = false, reply_done = false, granted = false;
    ParseOutcome co = ParseOutcome::NeedMore, so = f.s2c.empty() ? ParseOutcome::Ok : ParseOutcome::NeedMore;
    if (version == 5) {
        ByteReader methods;
        if (!c.prefixed8(methods) || methods.empty()) {
            record(facts, "socks", Direction::ClientToServer, ParseOutcome::NeedMore);
            return true;
        }
        std::string offered;
        for (std::uint8_t m : methods.rest()) {
            if (!socks5_method_valid(m)) {
                facts.protocol.clear();
                record(facts, "socks", Direction::ClientToServer, ParseOutcome::NotThisProtocol);
                return false;
            }
            offered += (offered.empty() ? "" : ",") + std::to_string(m);
        }
        facts.client_readable = true;
        add_evidence(facts, "SOCKS5 greeting offers methods [" + offered + "]");
        std::uint8_t sver = 0, chosen = 0;
        if (s.u8(sver) && sver == 5 && s.u8(chosen)) {
            facts.server_readable = true;
            add_evidence(facts, "SOCKS5 server chose method " + std::to_string(chosen));
        }
        // Username/password sub-negotiation (RFC 1929).
        if (c.peek8() == 1) {
            std::uint8_t subver = 0;
            ByteReader user, pass;
            if (c.u8(subver) && c.prefixed8(user) && c.prefixed8(pass)) {
                add_evidence(facts, "SOCKS5 username/password authentication for user " +
                                        printable_excerpt(user.as_string_view(), 40));
                add_secret(facts.secrets, "socks-password", "SOCKS5 username/password authentication",
                           Direction::ClientToServer, pass.as_string_view());
                std::uint8_t aver = 0, astatus = 0;
                if (s.u8(aver) && s.u8(astatus)) add_evidence(facts, std::string("SOCKS5 authentication ") + (astatus == 0 ? "accepted" : "rejected"));
            }
        }
        std::uint8_t ver = 0, cmd = 0, rsv = 0;
        std::string address;
        if (c.u8(ver) && ver == 5 && c.u8(cmd) && c.u8(rsv) && read_socks5_address(c, address)) {
            request_done = true;
            co = ParseOutcome::Ok;
            static constexpr std::array<std::string_view, 4> kCmd{"?", "CONNECT", "BIND", "UDP ASSOCIATE"};
            request = "SOCKS5 " + std::string(cmd < kCmd.size() ? kCmd[cmd] : "?") + " " + address;
            std::uint8_t rver = 0, rep = 0, rrsv = 0;
            std::string bound;
            if (s.u8(rver) && rver == 5 && s.u8(rep) && s.u8(rrsv) && read_socks5_address(s, bound)) {
                reply_done = true;
                granted = rep == 0;
                so = ParseOutcome::Ok;
                add_evidence(facts, "SOCKS5 reply " + std::to_string(rep) + (granted ? " (succeeded)" : " (failed)"));
            }
        }
    } else {
        std::uint8_t cmd = 0;
        std::uint16_t port = 0;
        Bytes ip;
        std::string_view user;
        const std::string_view after = as_text(f.c2s.subspan(std::min<std::size_t>(8, f.c2s.size())));
        const std::size_t nul = after.find('\0');
        if (c.u8(cmd) && c.u16(port) && c.bytes(4, ip) && nul != std::string_view::npos) {
            user = after.substr(0, nul);
            c.skip(nul + 1);
            std::string host = std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
                               std::to_string(ip[3]);
            if (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0) {  // SOCKS4a: host name follows
                const std::string_view rest = c.as_string_view();
                const std::size_t nul2 = rest.find('\0');
                if (nul2 == std::string_view::npos) {
                    record(facts, "socks", Direction::ClientToServer, ParseOutcome::NeedMore);
                    return true;
                }
                host = printable_excerpt(rest.substr(0, nul2), 255);
                c.skip(nul2 + 1);
            }
            request_done = true;
            co = ParseOutcome::Ok;
            facts.client_readable = true;
            request = std::string("SOCKS4 ") + (cmd == 1 ? "CONNECT " : "BIND ") + host + ":" + std::to_string(port);
            if (!user.empty()) add_evidence(facts, "SOCKS4 user id " + printable_excerpt(user, 40));
            std::uint8_t vn = 0, rep = 0;
            if (s.u8(vn) && vn == 0 && s.u8(rep) && s.skip(6)) {
                reply_done = true;
                granted = rep == 0x5a;
                so = ParseOutcome::Ok;
                facts.server_readable = true;
                add_evidence(facts, "SOCKS4 reply 0x" + std::string(rep == 0x5a ? "5a (granted)" : "5b-5d (rejected)"));
            }
        }
    }
    record(facts, "socks", Direction::ClientToServer, co);
    if (!f.s2c.empty()) record(facts, "socks", Direction::ServerToClient, so);
    if (request_done) {
        set_first_line(facts, request);
        add_evidence(facts, request);
        const std::size_t c_off = f.c2s.size() - c.remaining();
        if (c_off < f.c2s.size() && (granted || !reply_done)) {
            facts.tls_upgrade = "socks";
            facts.upgrade_c2s_offset = c_off;
            if (reply_done) facts.upgrade_s2c_offset = f.s2c.size() - s.remaining();
            add_evidence(facts, "tunnelled data follows the SOCKS exchange (" + std::to_string(f.c2s.size() - c_off) +
                                    " client bytes)");
        }
    }
    return facts.client_readable || facts.server_readable;
}

}  // namespace meshproof::audit::plaintext_detail
