/* pcap_floor: the benchmark's floor, a bare libpcap read loop.
 *
 *   pcap_floor FILE
 *
 * pcap_open_offline + pcap_next_ex over every packet, counting packets and
 * captured bytes; nothing else. Any tool that reads a capture through libpcap
 * does at least this much work, so its time is the floor the others are
 * compared with. Prints "packets=N bytes=N" on stdout.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_floor FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *in = pcap_open_offline(argv[1], err);
    if (!in) {
        fprintf(stderr, "pcap_floor: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(in, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
    }
    if (rc == -1) {
        fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], pcap_geterr(in));
        return 1;
    }
    pcap_close(in);
    printf("packets=%" PRIu64 " bytes=%" PRIu64 "\n", packets, bytes);
    return 0;
}
