/* The floor for reading a capture: libpcap's pcap_next_ex loop doing nothing with
 * the packets but counting them and their bytes. Build: gcc -O2 pcap_floor.c -lpcap */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char errbuf[PCAP_ERRBUF_SIZE];
    if (argc != 2) { fprintf(stderr, "usage: pcap_floor FILE\n"); return 2; }
    pcap_t *handle = pcap_open_offline(argv[1], errbuf);
    if (!handle) { fprintf(stderr, "%s\n", errbuf); return 1; }
    struct pcap_pkthdr *header;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0;
    int status;
    while ((status = pcap_next_ex(handle, &header, &data)) == 1) {
        packets++;
        bytes += header->caplen;
    }
    printf("%llu packets %llu bytes\n", packets, bytes);
    pcap_close(handle);
    return status == PCAP_ERROR_BREAK ? 0 : 1;
}
