#include "CCorral.h"
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

// The io_uring syscall numbers are the same on every architecture (the unified table).
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

// struct io_sqring_offsets / io_cqring_offsets / io_uring_params.
struct ccorral_sq_offsets { uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1; uint64_t resv2; };
struct ccorral_cq_offsets { uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1; uint64_t resv2; };
struct ccorral_params {
    uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
    struct ccorral_sq_offsets sq_off;
    struct ccorral_cq_offsets cq_off;
};
struct ccorral_getevents_arg { uint64_t sigmask; uint32_t sigmask_sz; uint32_t min_wait_usec; uint64_t ts; };
struct ccorral_kernel_timespec { int64_t tv_sec; long long tv_nsec; };
struct ccorral_rsrc_update { uint32_t offset; uint32_t resv; uint64_t data; };
struct ccorral_buf_reg { uint64_t ring_addr; uint32_t ring_entries; uint16_t bgid; uint16_t flags; uint64_t resv[3]; };

#define CCORRAL_FEAT_SINGLE_MMAP (1U << 0)
#define CCORRAL_OFF_SQ_RING 0ULL
#define CCORRAL_OFF_CQ_RING 0x8000000ULL
#define CCORRAL_OFF_SQES 0x10000000ULL
#define CCORRAL_REGISTER_ENABLE_RINGS 12
#define CCORRAL_REGISTER_RING_FDS 20
#define CCORRAL_REGISTER_PBUF_RING 22
#define CCORRAL_UNREGISTER_PBUF_RING 23

static int uring_register(int fd, unsigned op, void *arg, unsigned nr) {
    long r = syscall(__NR_io_uring_register, fd, op, arg, nr);
    return r < 0 ? -errno : (int)r;
}

int ccorral_ring_setup(ccorral_ring *ring, unsigned entries, unsigned cq_entries, unsigned flags,
                       unsigned sq_thread_idle_ms) {
    memset(ring, 0, sizeof(*ring));
    ring->fd = -1;
    struct ccorral_params p;
    memset(&p, 0, sizeof(p));
    p.flags = flags | CCORRAL_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
    p.sq_thread_idle = sq_thread_idle_ms;
    long fd = syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0) return -errno;
    ring->fd = (int)fd;
    ring->enter_fd = (int)fd;
    ring->setup_flags = p.flags;
    ring->features = p.features;

    ring->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    ring->cq_map_size = p.cq_off.cqes + p.cq_entries * sizeof(struct ccorral_cqe);
    if (p.features & CCORRAL_FEAT_SINGLE_MMAP) {
        if (ring->cq_map_size > ring->sq_map_size) ring->sq_map_size = ring->cq_map_size;
        ring->cq_map_size = ring->sq_map_size;
    }
    ring->sq_map = mmap(NULL, ring->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
                        CCORRAL_OFF_SQ_RING);
    if (ring->sq_map == MAP_FAILED) goto fail;
    if (p.features & CCORRAL_FEAT_SINGLE_MMAP) {
        ring->cq_map = ring->sq_map;
    } else {
        ring->cq_map = mmap(NULL, ring->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
                            CCORRAL_OFF_CQ_RING);
        if (ring->cq_map == MAP_FAILED) { ring->cq_map = NULL; goto fail; }
    }
    ring->sqes_map_size = p.sq_entries * sizeof(struct ccorral_sqe);
    ring->sqes = mmap(NULL, ring->sqes_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
                      CCORRAL_OFF_SQES);
    if (ring->sqes == MAP_FAILED) { ring->sqes = NULL; goto fail; }

    char *sq = ring->sq_map;
    ring->sq_khead = (unsigned *)(sq + p.sq_off.head);
    ring->sq_ktail = (unsigned *)(sq + p.sq_off.tail);
    ring->sq_kflags = (unsigned *)(sq + p.sq_off.flags);
    ring->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    ring->sq_entries = *(unsigned *)(sq + p.sq_off.ring_entries);
    // The indirection array maps queue slots to SQEs one to one, once and for all.
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < ring->sq_entries; i++) array[i] = i;
    ring->sqe_tail = *ring->sq_ktail;

    char *cq = ring->cq_map;
    ring->cq_khead = (unsigned *)(cq + p.cq_off.head);
    ring->cq_ktail = (unsigned *)(cq + p.cq_off.tail);
    ring->cq_koverflow = (unsigned *)(cq + p.cq_off.overflow);
    ring->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    ring->cq_entries = *(unsigned *)(cq + p.cq_off.ring_entries);
    ring->cqes = (struct ccorral_cqe *)(cq + p.cq_off.cqes);
    return 0;

fail: {
        int saved = errno;
        ccorral_ring_close(ring);
        return -saved;
    }
}

void ccorral_ring_close(ccorral_ring *ring) {
    if (ring->sqes) munmap(ring->sqes, ring->sqes_map_size);
    if (ring->cq_map && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_size);
    if (ring->sq_map && ring->sq_map != MAP_FAILED) munmap(ring->sq_map, ring->sq_map_size);
    if (ring->fd >= 0) close(ring->fd);
    ring->sqes = NULL;
    ring->cq_map = NULL;
    ring->sq_map = NULL;
    ring->fd = -1;
}

int ccorral_ring_enable(ccorral_ring *ring) {
    return uring_register(ring->fd, CCORRAL_REGISTER_ENABLE_RINGS, NULL, 0);
}

int ccorral_ring_register_ring_fd(ccorral_ring *ring) {
    struct ccorral_rsrc_update update = { .offset = (uint32_t)-1, .data = (uint64_t)ring->fd };
    int r = uring_register(ring->fd, CCORRAL_REGISTER_RING_FDS, &update, 1);
    if (r < 0) return r;
    if (r != 1) return -EINVAL;
    ring->enter_fd = (int)update.offset;
    ring->enter_flags |= CCORRAL_ENTER_REGISTERED_RING;
    return 0;
}

static int enter(ccorral_ring *ring, unsigned to_submit, unsigned wait_nr, unsigned flags, void *arg, size_t size) {
    long r = syscall(__NR_io_uring_enter, ring->enter_fd, to_submit, wait_nr, flags | ring->enter_flags, arg, size);
    return r < 0 ? -errno : (int)r;
}

/// Publishes the SQEs handed out so far; returns how many there are.
static unsigned flush_sq(ccorral_ring *ring) {
    unsigned pending = ring->sqe_tail - *ring->sq_ktail;
    if (pending) __atomic_store_n(ring->sq_ktail, ring->sqe_tail, __ATOMIC_RELEASE);
    // With SQPOLL the kernel thread consumes them; what matters is what it has not consumed yet.
    if (ring->setup_flags & CCORRAL_SETUP_SQPOLL)
        return ring->sqe_tail - __atomic_load_n(ring->sq_khead, __ATOMIC_ACQUIRE);
    return pending;
}

int ccorral_ring_submit(ccorral_ring *ring, unsigned wait_nr, int get_events, long long timeout_ns) {
    unsigned to_submit = flush_sq(ring);
    unsigned flags = 0;
    if (ring->setup_flags & CCORRAL_SETUP_SQPOLL) {
        // The poller thread submits; wake it if it went to sleep.
        if (to_submit && (__atomic_load_n(ring->sq_kflags, __ATOMIC_ACQUIRE) & CCORRAL_SQ_NEED_WAKEUP))
            flags |= CCORRAL_ENTER_SQ_WAKEUP;
        else if (!wait_nr && !get_events)
            return (int)to_submit;
    }
    if (wait_nr || get_events) flags |= CCORRAL_ENTER_GETEVENTS;
    if (!flags && !to_submit) return 0;
    struct ccorral_kernel_timespec ts;
    struct ccorral_getevents_arg arg;
    void *argp = NULL;
    size_t size = 0;
    if ((flags & CCORRAL_ENTER_GETEVENTS) && timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000LL;
        ts.tv_nsec = timeout_ns % 1000000000LL;
        memset(&arg, 0, sizeof(arg));
        arg.ts = (uint64_t)(uintptr_t)&ts;
        argp = &arg;
        size = sizeof(arg);
        flags |= CCORRAL_ENTER_EXT_ARG;
    }
    int r = enter(ring, to_submit, wait_nr, flags, argp, size);
    if (r == -ETIME) return 0;
    return r;
}

int ccorral_ring_submit_only(ccorral_ring *ring) {
    return ccorral_ring_submit(ring, 0, 0, -1);
}

int ccorral_ring_wait_for_room(ccorral_ring *ring) {
    return enter(ring, 0, 0, CCORRAL_ENTER_SQ_WAIT, NULL, 0);
}

static __thread void *current_loop;

void *ccorral_current_loop(void) { return current_loop; }
void ccorral_set_current_loop(void *loop) { current_loop = loop; }

int ccorral_buf_ring_setup(ccorral_ring *ring, ccorral_buf_ring *buffers, unsigned entries, uint16_t group) {
    memset(buffers, 0, sizeof(*buffers));
    size_t size = entries * sizeof(struct ccorral_ring_buf);
    long page = sysconf(_SC_PAGESIZE);
    size = (size + (size_t)page - 1) & ~((size_t)page - 1);
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (map == MAP_FAILED) return -errno;
    struct ccorral_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)map;
    reg.ring_entries = entries;
    reg.bgid = group;
    int r = uring_register(ring->fd, CCORRAL_REGISTER_PBUF_RING, &reg, 1);
    if (r < 0) {
        munmap(map, size);
        return r;
    }
    buffers->bufs = map;
    buffers->map_size = size;
    buffers->entries = entries;
    buffers->mask = entries - 1;
    buffers->tail = 0;
    buffers->group = group;
    return 0;
}

void ccorral_buf_ring_close(ccorral_ring *ring, ccorral_buf_ring *buffers) {
    if (!buffers->bufs) return;
    if (ring->fd >= 0) {
        struct ccorral_buf_reg reg;
        memset(&reg, 0, sizeof(reg));
        reg.bgid = buffers->group;
        (void)uring_register(ring->fd, CCORRAL_UNREGISTER_PBUF_RING, &reg, 1);
    }
    munmap(buffers->bufs, buffers->map_size);
    buffers->bufs = NULL;
}
