// A read-only memory mapping of a file that survives the file shrinking, or the disk
// failing, while it is mapped.
//
// Reading a mapped page that the file no longer backs (it was truncated, or the device
// returned an I/O error) raises SIGBUS, which would kill the process. Cairn reads
// evidence it does not control, so each mapping made here is registered with a SIGBUS
// handler: a bus error inside a registered mapping replaces the page with a page of
// zeros and records that the mapping faulted, and the reader turns that record into an
// ordinary read error. A bus error anywhere else goes to the handler that was there
// before (or kills the process, as it would have).
#ifndef CAIRN_GUARDED_MAPPING_H
#define CAIRN_GUARDED_MAPPING_H

#include <stddef.h>

/// Maps `length` bytes (> 0) of the open file `descriptor` read-only from offset 0 and
/// registers the mapping. Returns the registration's number (>= 0) and stores the
/// mapping's address in `*address`; returns -1 when the file cannot be mapped or every
/// registration is in use (the caller then reads the file with read(2)).
int cairn_guarded_map(int descriptor, size_t length, const void **address);

/// Reads one byte of every page of `[offset, offset + count)` of mapping `mapping`, so
/// that pages the file no longer backs are found now, then tells whether the mapping
/// has faulted since it was made (1) or not (0).
int cairn_guarded_touch(int mapping, size_t offset, size_t count);

/// Whether mapping `mapping` has faulted since it was made (1) or not (0).
int cairn_guarded_faulted(int mapping);

/// Tells the kernel that the whole pages of `[offset, offset + count)` of the mapping
/// need not stay resident, so that they stop counting towards the process's memory;
/// reading them again reads them back from the page cache or the file.
void cairn_guarded_release(int mapping, size_t offset, size_t count);

/// Unmaps mapping `mapping` and frees its registration.
void cairn_guarded_unmap(int mapping);

/// Asks the processor to start loading the cache lines at `address` and 64 bytes on:
/// a reader walking a mapping calls it on the next record while it decodes this one,
/// so that the record is not a fresh miss to memory when it gets there.
static inline void cairn_prefetch(const void *address) {
    __builtin_prefetch(address);
    __builtin_prefetch((const char *)address + 64);
}

#endif
