/* The floor for reading a gzip log: how fast each library can only inflate a file
 * (every member), doing nothing with the bytes but counting them.
 *
 *   zlib-gzread   gzread() into a 1 MiB buffer (zlib's own file layer)
 *   zlib-inflate  inflate() with 1 MiB read and output buffers, inflateReset per member
 *   isal          isal_inflate() streaming, crc_flag = ISAL_GZIP, isal_inflate_reset per member
 *   libdeflate    whole file in memory, libdeflate_gzip_decompress_ex member by member
 *                 into one buffer as large as the output (not streaming: a floor only)
 *
 * Build: gcc -O2 -o inflate_floor inflate_floor.c -lz -lisal -ldeflate
 * Usage: inflate_floor MODE FILE   prints "MODE SECONDS BYTES" (BYTES decompressed). */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define CHUNK (1u << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static long long run_gzread(const char *path) {
    gzFile file = gzopen(path, "rb");
    if (!file) return -1;
    gzbuffer(file, CHUNK);
    unsigned char *out = malloc(CHUNK);
    long long total = 0;
    int n;
    while ((n = gzread(file, out, CHUNK)) > 0) total += n;
    if (n < 0) total = -1;
    gzclose(file);
    free(out);
    return total;
}

static long long run_inflate(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return -1;
    long long total = 0;
    int eof = 0, status = Z_OK;
    for (;;) {
        if (s.avail_in == 0 && !eof) {
            s.avail_in = fread(in, 1, CHUNK, file);
            s.next_in = in;
            if (s.avail_in == 0) eof = 1;
        }
        if (status == Z_STREAM_END) {
            if (s.avail_in == 0 && eof) break;
            if (s.avail_in == 0) continue;
            inflateReset(&s);
        }
        s.next_out = out;
        s.avail_out = CHUNK;
        status = inflate(&s, Z_NO_FLUSH);
        total += CHUNK - s.avail_out;
        if (status != Z_OK && status != Z_STREAM_END) { total = -1; break; }
    }
    inflateEnd(&s);
    fclose(file);
    free(in);
    free(out);
    return total;
}

static long long run_isal(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK);
    struct inflate_state *s = malloc(sizeof *s);
    isal_inflate_init(s);
    s->crc_flag = ISAL_GZIP;
    long long total = 0;
    int eof = 0;
    for (;;) {
        if (s->avail_in == 0 && !eof) {
            s->avail_in = fread(in, 1, CHUNK, file);
            s->next_in = in;
            if (s->avail_in == 0) eof = 1;
        }
        if (s->block_state == ISAL_BLOCK_FINISH) {
            if (s->avail_in == 0 && eof) break;
            if (s->avail_in == 0) continue;
            isal_inflate_reset(s);
            s->crc_flag = ISAL_GZIP;
        }
        s->next_out = out;
        s->avail_out = CHUNK;
        int status = isal_inflate(s);
        total += CHUNK - s->avail_out;
        if (status != ISAL_DECOMP_OK) { total = -1; break; }
        if (eof && s->avail_in == 0 && s->avail_out == CHUNK && s->block_state != ISAL_BLOCK_FINISH) {
            total = -1; /* truncated */
            break;
        }
    }
    fclose(file);
    free(s);
    free(in);
    free(out);
    return total;
}

static long long run_libdeflate(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *in = malloc(size);
    if (fread(in, 1, size, file) != (size_t)size) return -1;
    fclose(file);
    /* Sum the ISIZE of every member would need a walk; read the output size from the
     * caller instead: an over-large buffer is fine for a floor. */
    size_t capacity = (size_t)size * 12 + (64u << 20);
    unsigned char *out = malloc(capacity);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t in_pos = 0, out_pos = 0;
    long long total = 0;
    while (in_pos < (size_t)size) {
        size_t used = 0, produced = 0;
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, in + in_pos, size - in_pos, out + out_pos,
                                                                 capacity - out_pos, &used, &produced);
        if (r != LIBDEFLATE_SUCCESS) { total = -1; break; }
        in_pos += used;
        out_pos += produced;
        total += produced;
    }
    libdeflate_free_decompressor(d);
    free(in);
    free(out);
    return total;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: inflate_floor zlib-gzread|zlib-inflate|isal|libdeflate FILE\n");
        return 2;
    }
    const char *mode = argv[1];
    double start = now();
    long long total;
    if (!strcmp(mode, "zlib-gzread")) total = run_gzread(argv[2]);
    else if (!strcmp(mode, "zlib-inflate")) total = run_inflate(argv[2]);
    else if (!strcmp(mode, "isal")) total = run_isal(argv[2]);
    else if (!strcmp(mode, "libdeflate")) total = run_libdeflate(argv[2]);
    else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
    double seconds = now() - start;
    if (total < 0) { fprintf(stderr, "%s: failed on %s\n", mode, argv[2]); return 1; }
    printf("%s %.3f %lld\n", mode, seconds, total);
    return 0;
}
