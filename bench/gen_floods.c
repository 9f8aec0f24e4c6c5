/* gen_floods: hostile-but-valid captures for the floods-and-bounds benchmark (bench/flood.sh).
 *
 *   gen_floods SCENARIO OUT.pcap [N]
 *
 * Scenarios (N defaults in brackets):
 *   syn        N SYNs [1000000], each from a distinct (address, port): 10.100.0.0/16 x 50000 ports,
 *              to 10.200.0.1:443, 1 us apart; nothing answers.
 *   tls        N concurrent established TLS 1.3 flows [200000]: per flow its TCP handshake, ClientHello
 *              and ServerHello back to back (the verdict is final at the ServerHello: at most one flow
 *              is undecided at a time, so the peak is N flows with final verdicts, still open), then
 *              every FIN exchange. Clients 10.101.0.0/16, servers 10.201.0.1:443.
 *   http       N concurrent established HTTP/1.1 keep-alive flows [200000]: handshakes, requests,
 *              responses (plaintext: the verdict stays open until close), then FINs.
 *   ooo        one flow whose client sends N 64-byte segments [1000000] out of order: the first
 *              segment (an HTTP request line) is held back to the very end and the rest arrive in
 *              shuffled blocks of 256, so a hole stays open the whole time.
 *   bighello   one TLS flow whose ClientHello announces a 16 MiB handshake message (handshake length
 *              0xFFFFFF) and then sends all 16 MiB, in 1024 full records cut into 1448-byte segments.
 *
 * Every scenario also carries two witness flows that are active from the first packet to the last
 * (a packet every 256 flood packets keeps them recently used, even with --max-flows 1000), whose
 * verdicts are known:
 *   10.9.0.1:50001 -> 10.9.1.1:8080   HTTP/1.1 GET + 200 OK       plaintext-served
 *   10.9.0.2:50002 -> 10.9.1.2:9080   TLS 1.3, Istio ALPN and SNI istio-mtls
 * flood.sh checks them: a flood may evict other flows, never change the verdict of a tracked one.
 *
 * Output: classic microsecond pcap, Ethernet, IPv4 with valid header checksums, TCP checksums 0
 * (meshproof and tshark do not verify them). Deterministic (fixed PRNG seed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

static FILE *out;
static uint64_t now_us = 1700000000ull * 1000000ull;
static uint64_t packets_written;

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xFFFF); }
static void putle32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

static void write_header(void) {
    uint8_t h[24] = {0};
    putle32(h, 0xA1B2C3D4u);
    h[4] = 2; h[6] = 4;
    putle32(h + 16, 262144);
    putle32(h + 20, 1); /* Ethernet */
    fwrite(h, 1, sizeof h, out);
}

/* One TCP/IPv4 frame; ts advances by 1 us per packet. */
static void frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                  uint8_t flags, const uint8_t *payload, uint32_t len) {
    uint8_t f[14 + 20 + 20];
    memset(f, 0, sizeof f);
    f[0] = 0x02; f[5] = 0x02;  /* locally administered MACs */
    f[6] = 0x02; f[11] = 0x01;
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, 40 + len);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    put16(ip + 10, ~sum & 0xFFFF);
    uint8_t *tcp = ip + 20;
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, (flags & ACK) ? ack : 0);
    tcp[12] = 0x50;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    uint8_t rec[16];
    now_us += 1;
    putle32(rec, (uint32_t)(now_us / 1000000));
    putle32(rec + 4, (uint32_t)(now_us % 1000000));
    putle32(rec + 8, (uint32_t)sizeof f + len);
    putle32(rec + 12, (uint32_t)sizeof f + len);
    fwrite(rec, 1, sizeof rec, out);
    fwrite(f, 1, sizeof f, out);
    if (len) fwrite(payload, 1, len, out);
    ++packets_written;
}

/* A TCP connection: both sides' next sequence numbers. */
struct conn {
    uint32_t cip, sip;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
};

static void c2s(struct conn *c, uint8_t flags, const uint8_t *p, uint32_t len) {
    frame(c->cip, c->sip, c->cport, c->sport, c->cseq, c->sseq, flags, p, len);
    c->cseq += len + ((flags & (SYN | FIN)) ? 1 : 0);
}
static void s2c(struct conn *c, uint8_t flags, const uint8_t *p, uint32_t len) {
    frame(c->sip, c->cip, c->sport, c->cport, c->sseq, c->cseq, flags, p, len);
    c->sseq += len + ((flags & (SYN | FIN)) ? 1 : 0);
}
static void handshake(struct conn *c) {
    c2s(c, SYN, NULL, 0);
    s2c(c, SYN | ACK, NULL, 0);
    c2s(c, ACK, NULL, 0);
}
static void close_both(struct conn *c) {
    c2s(c, FIN | ACK, NULL, 0);
    s2c(c, FIN | ACK, NULL, 0);
    c2s(c, ACK, NULL, 0);
}

/* ---- TLS messages ---- */

static size_t ext(uint8_t *p, uint16_t type, const uint8_t *body, uint16_t len) {
    put16(p, type);
    put16(p + 2, len);
    memcpy(p + 4, body, len);
    return 4u + len;
}

/* A TLS 1.3 ClientHello record. alpn: wire-format protocol list; sni may be NULL. */
static size_t client_hello(uint8_t *rec, const char *sni, const uint8_t *alpn, uint16_t alpn_len, uint32_t nonce) {
    uint8_t *h = rec + 5, *p = h + 4;
    put16(p, 0x0303); p += 2;
    for (int i = 0; i < 32; ++i) *p++ = (uint8_t)(nonce * 31u + (uint32_t)i);
    *p++ = 32;
    for (int i = 0; i < 32; ++i) *p++ = (uint8_t)(nonce + (uint32_t)i * 7u);
    static const uint16_t suites[] = {0x1301, 0x1302, 0x1303};
    put16(p, sizeof suites); p += 2;
    for (size_t i = 0; i < sizeof suites / 2; ++i) { put16(p, suites[i]); p += 2; }
    *p++ = 1; *p++ = 0;
    uint8_t *exts_len = p; p += 2;
    uint8_t *exts = p, body[300];
    if (sni) {
        const uint16_t n = (uint16_t)strlen(sni);
        put16(body, n + 3); body[2] = 0; put16(body + 3, n); memcpy(body + 5, sni, n);
        p += ext(p, 0x0000, body, (uint16_t)(n + 5));
    }
    put16(body, 4); put16(body + 2, 0x001d); put16(body + 4, 0x0017);
    p += ext(p, 0x000a, body, 6);                          /* supported_groups */
    put16(body, 4); put16(body + 2, 0x0403); put16(body + 4, 0x0804);
    p += ext(p, 0x000d, body, 6);                          /* signature_algorithms */
    if (alpn_len) {
        put16(body, alpn_len); memcpy(body + 2, alpn, alpn_len);
        p += ext(p, 0x0010, body, (uint16_t)(alpn_len + 2));
    }
    body[0] = 2; put16(body + 1, 0x0304);
    p += ext(p, 0x002b, body, 3);                          /* supported_versions */
    put16(body, 36); put16(body + 2, 0x001d); put16(body + 4, 32);
    for (int i = 0; i < 32; ++i) body[6 + i] = (uint8_t)(nonce ^ (uint32_t)i);
    p += ext(p, 0x0033, body, 38);                         /* key_share */
    put16(exts_len, (uint32_t)(p - exts));
    const uint32_t hs_len = (uint32_t)(p - h - 4);
    h[0] = 1; put24(h + 1, hs_len);
    rec[0] = 0x16; put16(rec + 1, 0x0301); put16(rec + 3, hs_len + 4);
    return (size_t)(p - rec);
}

/* A TLS 1.3 ServerHello record (cipher 0x1301). */
static size_t server_hello(uint8_t *rec, uint32_t nonce) {
    uint8_t *h = rec + 5, *p = h + 4, body[64];
    put16(p, 0x0303); p += 2;
    for (int i = 0; i < 32; ++i) *p++ = (uint8_t)(nonce * 17u + (uint32_t)i);
    *p++ = 32;
    for (int i = 0; i < 32; ++i) *p++ = (uint8_t)(nonce + (uint32_t)i * 7u);
    put16(p, 0x1301); p += 2;
    *p++ = 0;
    uint8_t *exts_len = p; p += 2;
    uint8_t *exts = p;
    put16(body, 0x0304);
    p += ext(p, 0x002b, body, 2);
    put16(body, 0x001d); put16(body + 2, 32);
    for (int i = 0; i < 32; ++i) body[4 + i] = (uint8_t)(nonce + (uint32_t)i);
    p += ext(p, 0x0033, body, 36);
    put16(exts_len, (uint32_t)(p - exts));
    const uint32_t hs_len = (uint32_t)(p - h - 4);
    h[0] = 2; put24(h + 1, hs_len);
    rec[0] = 0x16; put16(rec + 1, 0x0303); put16(rec + 3, hs_len + 4);
    return (size_t)(p - rec);
}

static const uint8_t kIstioAlpn[] = {19, 'i', 's', 't', 'i', 'o', '-', 'p', 'e', 'e', 'r', '-', 'e', 'x', 'c', 'h', 'a', 'n', 'g', 'e',
                                     5, 'i', 's', 't', 'i', 'o'};
static const uint8_t kH2Alpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
static const char kRequest[] = "GET /productpage HTTP/1.1\r\nHost: productpage:9080\r\nUser-Agent: flood\r\nAccept: */*\r\n\r\n";
static const char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

/* ---- witnesses: two flows with known verdicts spread over the whole capture ---- */

static struct conn w_http = {0x0A090001u, 0x0A090101u, 50001, 8080, 1000, 5000};
static struct conn w_tls = {0x0A090002u, 0x0A090102u, 50002, 9080, 2000, 6000};
static int witness_step;

/* Advances the witnesses by one step; called at regular points of the flood. */
static void witness(void) {
    uint8_t rec[600];
    const uint8_t app[5 + 32] = {0x17, 0x03, 0x03, 0x00, 32};
    switch (witness_step++) {
        case 0: handshake(&w_http); handshake(&w_tls); break;
        case 1: {
            c2s(&w_http, PSH | ACK, (const uint8_t *)kRequest, sizeof kRequest - 1);
            const size_t n = client_hello(rec, "outbound_.9080_._.productpage.default.svc.cluster.local", kIstioAlpn,
                                          sizeof kIstioAlpn, 7);
            c2s(&w_tls, PSH | ACK, rec, (uint32_t)n);
            break;
        }
        case 2: {
            s2c(&w_http, PSH | ACK, (const uint8_t *)kResponse, sizeof kResponse - 1);
            const size_t n = server_hello(rec, 7);
            s2c(&w_tls, PSH | ACK, rec, (uint32_t)n);
            break;
        }
        default:  /* keep-alive: touch both flows so LRU eviction never picks them (with new
                   * sequence numbers each time: identical frames would count as duplicates) */
            c2s(&w_http, PSH | ACK, (const uint8_t *)"\n", 1);
            c2s(&w_tls, PSH | ACK, app, sizeof app);
            break;
    }
}
static void witness_end(void) {
    while (witness_step < 3) witness();
    close_both(&w_http);
    close_both(&w_tls);
}
/* Called once per flood packet: a witness step every 256 packets. */
static void tick(void) {
    if ((packets_written & 255u) == 0) witness();
}

/* ---- scenarios ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static void flood_syn(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        frame(0x0A640001u + (uint32_t)(i / 50000), 0x0AC80001u, (uint16_t)(10000 + i % 50000), 443,
              (uint32_t)(i * 2654435761u), 0, SYN, NULL, 0);
        tick();
    }
}

static struct conn flood_conn(uint64_t i, uint32_t client_net, uint32_t server_ip, uint16_t port) {
    struct conn c = {client_net + 1 + (uint32_t)(i / 50000), server_ip, (uint16_t)(10000 + i % 50000), port,
                     (uint32_t)(i * 2654435761u), (uint32_t)(i * 40503u + 7)};
    return c;
}

static void flood_established(uint64_t n, int tls) {
    struct conn *cs = calloc(n, sizeof *cs);
    if (!cs) { perror("calloc"); exit(1); }
    uint8_t rec[600];
    for (uint64_t i = 0; i < n; ++i) {
        cs[i] = flood_conn(i, tls ? 0x0A650000u : 0x0A660000u, tls ? 0x0AC90001u : 0x0ACA0001u, tls ? 443 : 80);
        handshake(&cs[i]);
        if (tls) {
            /* Hellos right after the TCP handshake: the flow's verdict is final before the next flow
             * opens, so at the peak every tracked flow has a final verdict. */
            size_t len = client_hello(rec, "api.example.internal", kH2Alpn, sizeof kH2Alpn, (uint32_t)i);
            c2s(&cs[i], PSH | ACK, rec, (uint32_t)len);
            len = server_hello(rec, (uint32_t)i);
            s2c(&cs[i], PSH | ACK, rec, (uint32_t)len);
        }
        tick();
    }
    if (!tls) {
        for (uint64_t i = 0; i < n; ++i) {
            c2s(&cs[i], PSH | ACK, (const uint8_t *)kRequest, sizeof kRequest - 1);
            tick();
        }
        for (uint64_t i = 0; i < n; ++i) {
            s2c(&cs[i], PSH | ACK, (const uint8_t *)kResponse, sizeof kResponse - 1);
            tick();
        }
    }
    for (uint64_t i = 0; i < n; ++i) {
        close_both(&cs[i]);
        tick();
    }
    free(cs);
}

static void flood_out_of_order(uint64_t n) {
    struct conn c = {0x0A670001u, 0x0ACB0001u, 40000, 80, 100000, 900000};
    handshake(&c);
    const uint32_t base = c.cseq, seg = 64;
    uint8_t payload[64];
    /* Segment 0 is the request line, sent last; segments 1..n-1 arrive shuffled in blocks of 256. */
    uint32_t block[256];
    for (uint64_t start = 1; start < n; start += 256) {
        const uint32_t k = (uint32_t)((n - start) < 256 ? (n - start) : 256);
        for (uint32_t j = 0; j < k; ++j) block[j] = (uint32_t)start + j;
        for (uint32_t j = k; j > 1; --j) {
            const uint32_t r = rnd() % j, t = block[j - 1];
            block[j - 1] = block[r];
            block[r] = t;
        }
        for (uint32_t j = 0; j < k; ++j) {
            memset(payload, 'a' + (int)(block[j] % 26), sizeof payload);
            frame(c.cip, c.sip, c.cport, c.sport, base + block[j] * seg, c.sseq, PSH | ACK, payload, seg);
            tick();
        }
    }
    memset(payload, ' ', sizeof payload);
    memcpy(payload, "GET /ooo HTTP/1.1\r\nX-Pad:", 25);
    frame(c.cip, c.sip, c.cport, c.sport, base, c.sseq, PSH | ACK, payload, seg);
    c.cseq = base + (uint32_t)n * seg;
    s2c(&c, PSH | ACK, (const uint8_t *)kResponse, sizeof kResponse - 1);
    close_both(&c);
}

static void flood_big_hello(void) {
    struct conn c = {0x0A680001u, 0x0ACC0001u, 40000, 443, 300000, 700000};
    handshake(&c);
    /* 1024 records of 16384 bytes: the first starts the 16 MiB ClientHello (type 1, length 0xFFFFFF). */
    static uint8_t stream[1024 * (5 + 16384)];
    size_t len = 0;
    for (int r = 0; r < 1024; ++r) {
        uint8_t *h = stream + len;
        h[0] = 0x16; put16(h + 1, 0x0301); put16(h + 3, 16384);
        memset(h + 5, (uint8_t)r, 16384);
        if (r == 0) {
            h[5] = 1;
            put24(h + 6, 0xFFFFFF);
            put16(h + 9, 0x0303);
        }
        len += 5 + 16384;
    }
    for (size_t off = 0; off < len; off += 1448) {
        const uint32_t n = (uint32_t)(len - off < 1448 ? len - off : 1448);
        c2s(&c, PSH | ACK, stream + off, n);
        if ((off / 1448) % 16 == 0) s2c(&c, ACK, NULL, 0);
        tick();
    }
    close_both(&c);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: gen_floods syn|tls|http|ooo|bighello OUT.pcap [N]\n");
        return 2;
    }
    const char *scenario = argv[1];
    out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 1; }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    const uint64_t n_arg = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    write_header();
    witness();
    if (!strcmp(scenario, "syn")) flood_syn(n_arg ? n_arg : 1000000);
    else if (!strcmp(scenario, "tls")) flood_established(n_arg ? n_arg : 200000, 1);
    else if (!strcmp(scenario, "http")) flood_established(n_arg ? n_arg : 200000, 0);
    else if (!strcmp(scenario, "ooo")) flood_out_of_order(n_arg ? n_arg : 1000000);
    else if (!strcmp(scenario, "bighello")) flood_big_hello();
    else if (!strcmp(scenario, "none")) { /* witnesses only: the baseline */ }
    else { fprintf(stderr, "gen_floods: unknown scenario %s\n", scenario); return 2; }
    witness_end();
    if (fclose(out) != 0) { perror(argv[2]); return 1; }
    fprintf(stderr, "packets=%llu\n", (unsigned long long)packets_written);
    return 0;
}
