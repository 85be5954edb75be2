// See include/guarded_mapping.h. The one place in Cairn that handles a signal.
//
// Why it is safe:
// - The registrations are a fixed array of atomics, written by `cairn_guarded_map` and
//   `cairn_guarded_unmap` under `lock`, and only read (plus the `faulted` flag set) by
//   the handler, which takes no lock, allocates nothing and calls only mmap(2) and the
//   previous handler. A registration's address range is published (its `length` last)
//   only after the mapping exists, and withdrawn (`length` first) before it is unmapped.
// - A mapping is read by the thread that owns its file (and its hashing thread, which
//   reads only pages the owner has handed out); the owner unmaps it only after the
//   hashing thread has stopped, so no registered range is read after it is unmapped.
// - The replacement page is private, anonymous and read-only: it holds zeros, and the
//   instruction that faulted is restarted and reads them.
#define _GNU_SOURCE
#include "guarded_mapping.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

/// Files mapped at once; a reader that finds them all taken reads with read(2).
#define REGISTRATION_COUNT 64

struct registration {
    _Atomic uintptr_t start;
    _Atomic size_t length;  // 0: free (or being set up, or being withdrawn)
    _Atomic int faulted;
    int taken;              // under `lock`
};

static struct registration registrations[REGISTRATION_COUNT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static struct sigaction previous;
static int handler_ready;
static size_t page_size;

static void on_bus_error(int signal_number, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int index = 0; index < REGISTRATION_COUNT; index++) {
        struct registration *entry = &registrations[index];
        size_t length = atomic_load(&entry->length);
        uintptr_t start = atomic_load(&entry->start);
        if (length == 0 || address < start || address - start >= length) continue;
        void *page = (void *)(address & ~(uintptr_t)(page_size - 1));
        void *zeros = mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros == MAP_FAILED) break;
        atomic_store(&entry->faulted, 1);
        return;
    }
    // Not ours, or the page could not be replaced: what would have happened anyway.
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(signal_number, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal_number);
    } else {
        signal(SIGBUS, SIG_DFL);  // returning restarts the access, which now kills
    }
}

static void install_handler(void) {
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    handler_ready = sigaction(SIGBUS, &action, &previous) == 0;
}

int cairn_guarded_map(int descriptor, size_t length, const void **address) {
    if (length == 0) return -1;
    pthread_once(&installed, install_handler);
    if (!handler_ready) return -1;
    pthread_mutex_lock(&lock);
    int index = 0;
    while (index < REGISTRATION_COUNT && registrations[index].taken) index++;
    if (index < REGISTRATION_COUNT) registrations[index].taken = 1;
    pthread_mutex_unlock(&lock);
    if (index == REGISTRATION_COUNT) return -1;

    void *mapped = mmap(NULL, length, PROT_READ, MAP_PRIVATE, descriptor, 0);
    if (mapped == MAP_FAILED) {
        pthread_mutex_lock(&lock);
        registrations[index].taken = 0;
        pthread_mutex_unlock(&lock);
        return -1;
    }
    madvise(mapped, length, MADV_SEQUENTIAL);
    struct registration *entry = &registrations[index];
    atomic_store(&entry->faulted, 0);
    atomic_store(&entry->start, (uintptr_t)mapped);
    atomic_store(&entry->length, length);
    *address = mapped;
    return index;
}

int cairn_guarded_touch(int mapping, size_t offset, size_t count) {
    struct registration *entry = &registrations[mapping];
    const volatile unsigned char *bytes = (const volatile unsigned char *)atomic_load(&entry->start);
    size_t end = offset + count;
    for (size_t position = offset; position < end; position += page_size) (void)bytes[position];
    if (count > 0) (void)bytes[end - 1];
    return atomic_load(&entry->faulted);
}

int cairn_guarded_faulted(int mapping) {
    return atomic_load(&registrations[mapping].faulted);
}

void cairn_guarded_release(int mapping, size_t offset, size_t count) {
    struct registration *entry = &registrations[mapping];
    uintptr_t start = atomic_load(&entry->start) + offset;
    uintptr_t first = (start + page_size - 1) & ~(uintptr_t)(page_size - 1);
    uintptr_t end = (start + count) & ~(uintptr_t)(page_size - 1);
    if (end > first) madvise((void *)first, end - first, MADV_DONTNEED);
}

void cairn_guarded_unmap(int mapping) {
    struct registration *entry = &registrations[mapping];
    size_t length = atomic_load(&entry->length);
    void *start = (void *)atomic_load(&entry->start);
    atomic_store(&entry->length, 0);
    munmap(start, length);
    atomic_store(&entry->start, 0);
    pthread_mutex_lock(&lock);
    entry->taken = 0;
    pthread_mutex_unlock(&lock);
}
