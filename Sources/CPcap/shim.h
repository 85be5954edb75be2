#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

// glibc's fopencookie(3), declared here because Swift's Glibc module is built without
// _GNU_SOURCE and so imports neither the function nor cookie_io_functions_t. The
// struct below has the same members in the same order as cookie_io_functions_t (read,
// write, seek, close; seek's offset is an off64_t, a 64-bit integer on every glibc
// platform), and the asm label binds the declaration to glibc's own symbol. The
// capture reader uses it to let libpcap read through a stream that hashes every byte.
typedef struct {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, int64_t *offset, int whence);
    int (*close)(void *cookie);
} cairn_cookie_io_functions;

FILE *cairn_fopencookie(void *cookie, const char *mode, cairn_cookie_io_functions functions)
    __asm__("fopencookie");
