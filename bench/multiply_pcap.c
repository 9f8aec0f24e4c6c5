/* multiply_pcap: turn a small seed capture into a large one made of many
 * distinct flows, for the benchmark (bench/run.sh).
 *
 *   multiply_pcap [-n COPIES] [-v OVERLAP] SEED.pcap OUT.pcap
 *
 * Copy k of the seed (k = 0 .. COPIES-1) has:
 *   - every IPv4 address inside 10.244.0.0/22 (the seed's pods) moved by
 *     (k % 64) * 1024, i.e. the third octet grows by 4 per copy, so it stays
 *     inside 10.244.0.0/16; addresses outside the /22 are left alone;
 *   - for k >= 64, every TCP/UDP port >= 32768 (the ephemeral side) rotated
 *     by (k / 64) * 4099 inside 32768..65535, so (address shift, port shift)
 *     is unique per copy and every flow of every copy is distinct;
 *   - timestamps shifted by k * STRIDE, STRIDE = seed duration / OVERLAP, so
 *     about OVERLAP copies run at the same time, as on a busy node;
 *   - the IPv4 header checksum recomputed and the TCP/UDP checksum updated
 *     incrementally (RFC 1624), so checksums stay valid.
 * The copies are merged in timestamp order. Ethernet (DLT_EN10MB) only; the
 * output is a classic microsecond pcap. Statistics go to stderr as
 * "key=value" words for the calling script.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEED_BLOCK_MASK 0xFFFFFC00u /* 10.244.0.0/22 */
#define SEED_BLOCK 0x0AF40000u
#define COPIES_PER_PORT_GROUP 64u
#define MAX_COPIES 4096u
#define MAX_FRAME 65535u

struct seed_packet {
    int64_t ts_ns;
    uint32_t caplen;
    uint32_t len;
    size_t offset; /* into the arena */
};

struct seed {
    struct seed_packet *packets;
    size_t count, capacity;
    uint8_t *arena;
    size_t arena_used, arena_capacity;
};

static void die(const char *what) {
    fprintf(stderr, "multiply_pcap: %s\n", what);
    exit(1);
}

static void *grow(void *ptr, size_t *capacity, size_t needed, size_t elem) {
    if (needed <= *capacity) return ptr;
    size_t cap = *capacity ? *capacity : 1024;
    while (cap < needed) cap *= 2;
    void *p = realloc(ptr, cap * elem);
    if (!p) die("out of memory");
    *capacity = cap;
    return p;
}

static void load_seed(const char *path, struct seed *s) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *in = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!in) {
        fprintf(stderr, "multiply_pcap: %s\n", err);
        exit(1);
    }
    if (pcap_datalink(in) != DLT_EN10MB) die("seed is not Ethernet (DLT_EN10MB)");
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(in, &h, &data)) == 1) {
        s->packets = grow(s->packets, &s->capacity, s->count + 1, sizeof *s->packets);
        s->arena = grow(s->arena, &s->arena_capacity, s->arena_used + h->caplen, 1);
        memcpy(s->arena + s->arena_used, data, h->caplen);
        struct seed_packet *p = &s->packets[s->count++];
        p->ts_ns = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec; /* usec holds ns */
        p->caplen = h->caplen;
        p->len = h->len;
        p->offset = s->arena_used;
        s->arena_used += h->caplen;
    }
    if (rc == -1) {
        fprintf(stderr, "multiply_pcap: %s: %s\n", path, pcap_geterr(in));
        exit(1);
    }
    pcap_close(in);
    if (s->count == 0) die("seed has no packets");
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put32(uint8_t *p, uint32_t v) {
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), one 16-bit word changed. */
static uint16_t csum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~old_word + new_word;
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t ip_header_checksum(const uint8_t *ip, size_t header_len) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < header_len; i += 2) {
        if (i == 10) continue; /* the checksum field itself */
        sum += get16(ip + i);
    }
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t shift_address(uint32_t addr, uint32_t copy) {
    if ((addr & SEED_BLOCK_MASK) != SEED_BLOCK) return addr;
    return addr + (copy % COPIES_PER_PORT_GROUP) * 1024u;
}

static uint16_t shift_port(uint16_t port, uint32_t copy) {
    uint32_t group = copy / COPIES_PER_PORT_GROUP;
    if (group == 0 || port < 32768) return port;
    return (uint16_t)(32768u + ((port - 32768u + group * 4099u) & 0x7FFFu));
}

struct l4_fix {
    uint8_t *checksum; /* NULL when absent or not captured */
    int udp;
};

static void fix_l4_word(struct l4_fix *fx, uint16_t old_word, uint16_t new_word) {
    if (!fx->checksum || old_word == new_word) return;
    uint16_t hc = get16(fx->checksum);
    if (fx->udp && hc == 0) return; /* UDP without checksum */
    uint16_t updated = csum_update16(hc, old_word, new_word);
    if (fx->udp && updated == 0) updated = 0xFFFF;
    put16(fx->checksum, updated);
}

/* Rewrites one Ethernet frame in place for copy `copy`. Returns 1 if it was
 * IPv4 whose addresses were in the seed block. */
static int rewrite_frame(uint8_t *frame, uint32_t caplen, uint32_t copy) {
    size_t off = 12;
    if (caplen < 14) return 0;
    uint16_t ethertype = get16(frame + off);
    off += 2;
    while ((ethertype == 0x8100 || ethertype == 0x88A8) && caplen >= off + 4) {
        ethertype = get16(frame + off + 2);
        off += 4;
    }
    if (ethertype != 0x0800 || caplen < off + 20) return 0;
    uint8_t *ip = frame + off;
    size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || caplen < off + ihl) return 0;

    uint32_t src = get32(ip + 12), dst = get32(ip + 16);
    uint32_t new_src = shift_address(src, copy), new_dst = shift_address(dst, copy);
    int in_block = (src & SEED_BLOCK_MASK) == SEED_BLOCK || (dst & SEED_BLOCK_MASK) == SEED_BLOCK;

    struct l4_fix fx = {NULL, 0};
    uint8_t *l4 = ip + ihl;
    size_t l4_captured = caplen - off - ihl;
    int first_fragment = (get16(ip + 6) & 0x1FFF) == 0;
    int has_ports = first_fragment && (ip[9] == 6 || ip[9] == 17) && l4_captured >= 8;
    if (has_ports) {
        if (ip[9] == 6 && l4_captured >= 18) fx.checksum = l4 + 16;
        if (ip[9] == 17) {
            fx.checksum = l4 + 6;
            fx.udp = 1;
        }
    }
    /* The pseudo-header holds both addresses: update the L4 checksum for them. */
    fix_l4_word(&fx, (uint16_t)(src >> 16), (uint16_t)(new_src >> 16));
    fix_l4_word(&fx, (uint16_t)src, (uint16_t)new_src);
    fix_l4_word(&fx, (uint16_t)(dst >> 16), (uint16_t)(new_dst >> 16));
    fix_l4_word(&fx, (uint16_t)dst, (uint16_t)new_dst);
    put32(ip + 12, new_src);
    put32(ip + 16, new_dst);
    put16(ip + 10, ip_header_checksum(ip, ihl));

    if (has_ports) {
        for (size_t i = 0; i < 4; i += 2) {
            uint16_t port = get16(l4 + i);
            uint16_t moved = shift_port(port, copy);
            fix_l4_word(&fx, port, moved);
            put16(l4 + i, moved);
        }
    }
    return in_block;
}

static void usage(void) {
    fprintf(stderr, "usage: multiply_pcap [-n COPIES] [-v OVERLAP] SEED.pcap OUT.pcap\n");
    exit(2);
}

int main(int argc, char **argv) {
    unsigned long copies = 16, overlap = 16;
    int opt;
    while ((opt = getopt(argc, argv, "n:v:")) != -1) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(optarg, &end, 10);
        if (errno || !end || *end || v == 0) usage();
        if (opt == 'n') copies = v;
        else if (opt == 'v') overlap = v;
        else usage();
    }
    if (argc - optind != 2) usage();
    if (copies > MAX_COPIES) die("too many copies (max 4096)");

    struct seed s = {0};
    load_seed(argv[optind], &s);
    int64_t first = s.packets[0].ts_ns, last = s.packets[0].ts_ns;
    for (size_t i = 0; i < s.count; i++) {
        if (s.packets[i].ts_ns < first) first = s.packets[i].ts_ns;
        if (s.packets[i].ts_ns > last) last = s.packets[i].ts_ns;
    }
    int64_t duration = last - first;
    int64_t stride = duration / (int64_t)overlap + 1000; /* +1 us: copies never tie */

    FILE *out = fopen(argv[optind + 1], "wb");
    if (!out) {
        perror(argv[optind + 1]);
        return 1;
    }
    static char out_buffer[1 << 20];
    setvbuf(out, out_buffer, _IOFBF, sizeof out_buffer);
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)MAX_FRAME);
    pcap_dumper_t *dumper = pcap_dump_fopen(dead, out);
    if (!dumper) {
        fprintf(stderr, "multiply_pcap: %s\n", pcap_geterr(dead));
        return 1;
    }

    size_t *next = calloc(copies, sizeof *next);
    if (!next) die("out of memory");
    uint8_t frame[MAX_FRAME];
    uint64_t packets = 0, bytes = 0, outside_block = 0;
    uint32_t max_frame = 0;
    for (;;) {
        /* Merge: the copy whose next packet is earliest (linear scan: copies are few). */
        long best = -1;
        int64_t best_ts = 0;
        for (unsigned long k = 0; k < copies; k++) {
            if (next[k] >= s.count) continue;
            int64_t ts = s.packets[next[k]].ts_ns + (int64_t)k * stride;
            if (best < 0 || ts < best_ts) {
                best = (long)k;
                best_ts = ts;
            }
        }
        if (best < 0) break;
        const struct seed_packet *p = &s.packets[next[best]++];
        uint32_t caplen = p->caplen > MAX_FRAME ? MAX_FRAME : p->caplen;
        memcpy(frame, s.arena + p->offset, caplen);
        if (!rewrite_frame(frame, caplen, (uint32_t)best)) outside_block++;
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(best_ts / 1000000000);
        h.ts.tv_usec = (suseconds_t)((best_ts % 1000000000) / 1000);
        h.caplen = caplen;
        h.len = p->len;
        pcap_dump((u_char *)dumper, &h, frame);
        packets++;
        bytes += caplen;
        if (p->len > max_frame) max_frame = p->len;
    }
    if (pcap_dump_flush(dumper) != 0 || ferror(out)) die("write error");
    pcap_dump_close(dumper);
    pcap_close(dead);
    fprintf(stderr,
            "seed_packets=%zu copies=%lu overlap=%lu packets=%" PRIu64 " bytes=%" PRIu64
            " max_frame=%" PRIu32 " not_rewritten=%" PRIu64 " seed_duration_s=%.3f\n",
            s.count, copies, overlap, packets, bytes, max_frame, outside_block,
            (double)duration / 1e9);
    free(next);
    free(s.packets);
    free(s.arena);
    return 0;
}
