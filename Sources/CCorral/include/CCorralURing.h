// CCorral, io_uring: the ring itself, driven by the raw syscalls (io_uring_setup, io_uring_enter,
// io_uring_register), with the kernel ABI spelled out here rather than taken from the system's
// <linux/io_uring.h>: the distributions Swift runs on ship kernel headers from 5.4 to 6.x, and the
// constants this backend needs (multishot receive, buffer rings, DEFER_TASKRUN) are missing from
// the older ones. The ABI is stable: these values are the kernel's, checked by a test against the
// header of the build machine. liburing is not used: Debian bookworm's 2.3 lacks the buffer-ring
// set-up helper (io_uring_setup_buf_ring came in 2.4), and a system library would be one more
// thing every package depending on Corral has to install.
//
// Hot-path helpers (getting an SQE, reading CQEs) are static inline so Swift calls them without a
// function call; the rest is in uring.c.
#ifndef CCORRAL_URING_H
#define CCORRAL_URING_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

// MARK: the kernel ABI

/// struct io_uring_sqe (64 bytes).
struct ccorral_sqe {
    uint8_t opcode;
    uint8_t flags;
    uint16_t ioprio;
    int32_t fd;
    uint64_t off;        // off / addr2
    uint64_t addr;       // addr / splice_off_in
    uint32_t len;
    uint32_t op_flags;   // msg_flags, poll32_events, accept_flags, cancel_flags, msg_ring_flags...
    uint64_t user_data;
    uint16_t buf_group;  // buf_index / buf_group
    uint16_t personality;
    int32_t file_index;  // splice_fd_in / file_index
    uint64_t addr3;
    uint64_t pad2;
};

/// struct io_uring_cqe (16 bytes).
struct ccorral_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
};

/// struct io_uring_buf: one entry of a provided-buffer ring.
struct ccorral_ring_buf {
    uint64_t addr;
    uint32_t len;
    uint16_t bid;
    uint16_t resv;  // entry 0's resv is the ring's tail
};

enum {
    CCORRAL_OP_NOP = 0,
    CCORRAL_OP_POLL_ADD = 6,
    CCORRAL_OP_POLL_REMOVE = 7,
    CCORRAL_OP_SENDMSG = 9,
    CCORRAL_OP_ACCEPT = 13,
    CCORRAL_OP_ASYNC_CANCEL = 14,
    CCORRAL_OP_CLOSE = 19,
    CCORRAL_OP_READ = 22,
    CCORRAL_OP_SEND = 26,
    CCORRAL_OP_RECV = 27,
    CCORRAL_OP_SPLICE = 30,
    CCORRAL_OP_SHUTDOWN = 34,
    CCORRAL_OP_MSG_RING = 40,
};

// sqe->flags
#define CCORRAL_SQE_FIXED_FILE (1U << 0)
#define CCORRAL_SQE_IO_LINK (1U << 2)
#define CCORRAL_SQE_IO_HARDLINK (1U << 3)
#define CCORRAL_SQE_BUFFER_SELECT (1U << 5)
#define CCORRAL_SQE_CQE_SKIP_SUCCESS (1U << 6)

// io_uring_setup flags
#define CCORRAL_SETUP_SQPOLL (1U << 1)
#define CCORRAL_SETUP_CQSIZE (1U << 3)
#define CCORRAL_SETUP_CLAMP (1U << 4)
#define CCORRAL_SETUP_R_DISABLED (1U << 6)
#define CCORRAL_SETUP_SUBMIT_ALL (1U << 7)
#define CCORRAL_SETUP_COOP_TASKRUN (1U << 8)
#define CCORRAL_SETUP_TASKRUN_FLAG (1U << 9)
#define CCORRAL_SETUP_SINGLE_ISSUER (1U << 12)
#define CCORRAL_SETUP_DEFER_TASKRUN (1U << 13)

// io_uring_enter flags
#define CCORRAL_ENTER_GETEVENTS (1U << 0)
#define CCORRAL_ENTER_SQ_WAKEUP (1U << 1)
#define CCORRAL_ENTER_SQ_WAIT (1U << 2)
#define CCORRAL_ENTER_EXT_ARG (1U << 3)
#define CCORRAL_ENTER_REGISTERED_RING (1U << 4)

// sq_ring->flags
#define CCORRAL_SQ_NEED_WAKEUP (1U << 0)
#define CCORRAL_SQ_CQ_OVERFLOW (1U << 1)

// cqe->flags
#define CCORRAL_CQE_F_BUFFER (1U << 0)
#define CCORRAL_CQE_F_MORE (1U << 1)
#define CCORRAL_CQE_F_SOCK_NONEMPTY (1U << 2)
#define CCORRAL_CQE_BUFFER_SHIFT 16

// POLL_ADD flags (in sqe->len)
#define CCORRAL_POLL_ADD_MULTI (1U << 0)
// ASYNC_CANCEL flags
#define CCORRAL_ASYNC_CANCEL_ALL (1U << 0)
#define CCORRAL_ASYNC_CANCEL_FD (1U << 1)
#define CCORRAL_ASYNC_CANCEL_ANY (1U << 2)
// send/recv flags (in sqe->ioprio)
#define CCORRAL_RECV_MULTISHOT (1U << 1)
// accept flags (in sqe->ioprio)
#define CCORRAL_ACCEPT_MULTISHOT (1U << 0)
// MSG_RING: command IORING_MSG_DATA is 0 (in sqe->addr)
#define CCORRAL_MSG_DATA 0

// MARK: the ring

/// One io_uring instance as its single user (an event loop) sees it: the mapped submission and
/// completion queues and the local copy of the submission tail.
typedef struct ccorral_ring {
    int fd;
    /// What io_uring_enter is given: the ring's fd, or its index once registered.
    int enter_fd;
    unsigned enter_flags;
    unsigned setup_flags;
    unsigned features;
    // submission queue
    unsigned *sq_khead;
    unsigned *sq_ktail;
    unsigned *sq_kflags;
    unsigned sq_mask;
    unsigned sq_entries;
    struct ccorral_sqe *sqes;
    /// SQEs handed out so far (the kernel's tail is set from it at submission).
    unsigned sqe_tail;
    // completion queue
    unsigned *cq_khead;
    unsigned *cq_ktail;
    unsigned *cq_koverflow;
    unsigned cq_mask;
    unsigned cq_entries;
    struct ccorral_cqe *cqes;
    // mappings
    void *sq_map;
    size_t sq_map_size;
    void *cq_map;
    size_t cq_map_size;
    size_t sqes_map_size;
} ccorral_ring;

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19): the kernel takes buffers from
/// its head for multishot receives; the program gives them back at the tail.
typedef struct ccorral_buf_ring {
    struct ccorral_ring_buf *bufs;
    size_t map_size;
    unsigned entries;
    unsigned mask;
    uint16_t tail;
    uint16_t group;
} ccorral_buf_ring;

/// io_uring_setup with `flags` (CCORRAL_SETUP_*), `entries` SQEs and `cq_entries` CQEs, and the
/// three mappings. `sq_thread_idle_ms` is used with SQPOLL. Returns 0, or -errno.
int ccorral_ring_setup(ccorral_ring *ring, unsigned entries, unsigned cq_entries, unsigned flags,
                       unsigned sq_thread_idle_ms);
/// Unmaps and closes the ring (in-flight requests are cancelled by the kernel).
void ccorral_ring_close(ccorral_ring *ring);
/// IORING_REGISTER_ENABLE_RINGS: a ring set up with R_DISABLED starts; with SINGLE_ISSUER the
/// calling thread becomes the only one allowed to submit. Returns 0 or -errno.
int ccorral_ring_enable(ccorral_ring *ring);
/// IORING_REGISTER_RING_FDS: registers the ring's own descriptor for the calling thread, so
/// io_uring_enter skips the descriptor-table lookup. Returns 0 or -errno.
int ccorral_ring_register_ring_fd(ccorral_ring *ring);
/// Submits the SQEs handed out since the last call and, when `wait_nr` > 0 or `get_events`,
/// waits until `wait_nr` completions are in the queue or `timeout_ns` (-1: none) has passed.
/// Returns how many SQEs were consumed (≥ 0), or -errno (-ETIME is reported as 0: a timeout is
/// an ordinary wake-up; EINTR is the caller's to retry).
int ccorral_ring_submit(ccorral_ring *ring, unsigned wait_nr, int get_events, long long timeout_ns);
/// Submits what is pending without waiting. Returns how many were consumed, or -errno.
int ccorral_ring_submit_only(ccorral_ring *ring);
/// SQPOLL: waits until the poller thread has made room in the submission queue. 0 or -errno.
int ccorral_ring_wait_for_room(ccorral_ring *ring);

/// The event loop running on the calling thread (a thread-local set by the loop), or NULL.
void *ccorral_current_loop(void);
void ccorral_set_current_loop(void *loop);
/// IORING_REGISTER_PBUF_RING of a ring of `entries` (a power of two) buffers for group `group`.
/// Returns 0 or -errno.
int ccorral_buf_ring_setup(ccorral_ring *ring, ccorral_buf_ring *buffers, unsigned entries, uint16_t group);
/// Unregisters and unmaps the buffer ring.
void ccorral_buf_ring_close(ccorral_ring *ring, ccorral_buf_ring *buffers);

/// The next free SQE, zeroed, or NULL when the submission queue is full (submit first).
static inline struct ccorral_sqe *ccorral_ring_get_sqe(ccorral_ring *ring) {
    unsigned head = __atomic_load_n(ring->sq_khead, __ATOMIC_ACQUIRE);
    if (ring->sqe_tail - head >= ring->sq_entries) return NULL;
    struct ccorral_sqe *sqe = &ring->sqes[ring->sqe_tail & ring->sq_mask];
    ring->sqe_tail++;
    memset(sqe, 0, sizeof(*sqe));
    return sqe;
}

/// Free submission slots.
static inline unsigned ccorral_ring_sq_space(const ccorral_ring *ring) {
    return ring->sq_entries - (ring->sqe_tail - __atomic_load_n(ring->sq_khead, __ATOMIC_ACQUIRE));
}

/// SQEs handed out and not yet submitted.
static inline unsigned ccorral_ring_sq_pending(const ccorral_ring *ring) {
    return ring->sqe_tail - *ring->sq_ktail;
}

/// Completions waiting to be read.
static inline unsigned ccorral_ring_cq_ready(const ccorral_ring *ring) {
    return __atomic_load_n(ring->cq_ktail, __ATOMIC_ACQUIRE) - *ring->cq_khead;
}

/// Whether completions overflowed into the kernel's backlog (an io_uring_enter moves them into
/// the queue as room frees up).
static inline int ccorral_ring_cq_overflowed(const ccorral_ring *ring) {
    return (__atomic_load_n(ring->sq_kflags, __ATOMIC_ACQUIRE) & CCORRAL_SQ_CQ_OVERFLOW) != 0;
}

/// The i-th waiting completion (0 is the oldest).
static inline struct ccorral_cqe *ccorral_ring_cqe(ccorral_ring *ring, unsigned i) {
    return &ring->cqes[(*ring->cq_khead + i) & ring->cq_mask];
}

/// Marks `count` completions as read (their slots may be reused by the kernel).
static inline void ccorral_ring_cq_advance(ccorral_ring *ring, unsigned count) {
    __atomic_store_n(ring->cq_khead, *ring->cq_khead + count, __ATOMIC_RELEASE);
}

/// Gives buffer `bid` (at `addr`, `len` bytes) to the kernel; visible once advanced.
static inline void ccorral_buf_ring_add(ccorral_buf_ring *buffers, void *addr, unsigned len, uint16_t bid,
                                        unsigned offset) {
    struct ccorral_ring_buf *entry = &buffers->bufs[(buffers->tail + offset) & buffers->mask];
    entry->addr = (uint64_t)(uintptr_t)addr;
    entry->len = len;
    entry->bid = bid;
}

/// Publishes `count` buffers added since the last advance.
static inline void ccorral_buf_ring_advance(ccorral_buf_ring *buffers, unsigned count) {
    buffers->tail = (uint16_t)(buffers->tail + count);
    uint16_t *ktail = &buffers->bufs[0].resv;
    __atomic_store_n(ktail, buffers->tail, __ATOMIC_RELEASE);
}

// MARK: preparing requests (liburing's io_uring_prep_* for the operations used here)

static inline void ccorral_prep(struct ccorral_sqe *sqe, uint8_t op, int fd, uint64_t addr, uint32_t len,
                                uint64_t user_data) {
    sqe->opcode = op;
    sqe->fd = fd;
    sqe->addr = addr;
    sqe->len = len;
    sqe->user_data = user_data;
}

/// POLL_ADD for `events` (epoll/poll bits); multishot reports every wake-up until removed.
static inline void ccorral_prep_poll(struct ccorral_sqe *sqe, int fd, uint32_t events, int multishot,
                                     uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_POLL_ADD, fd, 0, multishot ? CCORRAL_POLL_ADD_MULTI : 0, user_data);
    sqe->op_flags = events;
}

/// Multishot accept: one completion per connection (Linux 5.19), SOCK_NONBLOCK|SOCK_CLOEXEC.
static inline void ccorral_prep_multishot_accept(struct ccorral_sqe *sqe, int fd, uint32_t accept_flags,
                                                 uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_ACCEPT, fd, 0, 0, user_data);
    sqe->op_flags = accept_flags;
    sqe->ioprio = CCORRAL_ACCEPT_MULTISHOT;
}

/// Multishot receive into buffers of `group` (Linux 6.0): one completion per read.
static inline void ccorral_prep_multishot_recv(struct ccorral_sqe *sqe, int fd, uint16_t group, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_RECV, fd, 0, 0, user_data);
    sqe->ioprio = CCORRAL_RECV_MULTISHOT;
    sqe->flags = CCORRAL_SQE_BUFFER_SELECT;
    sqe->buf_group = group;
}

static inline void ccorral_prep_send(struct ccorral_sqe *sqe, int fd, const void *buffer, uint32_t len,
                                     uint32_t msg_flags, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_SEND, fd, (uint64_t)(uintptr_t)buffer, len, user_data);
    sqe->op_flags = msg_flags;
}

static inline void ccorral_prep_sendmsg(struct ccorral_sqe *sqe, int fd, const void *msghdr, uint32_t msg_flags,
                                        uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_SENDMSG, fd, (uint64_t)(uintptr_t)msghdr, 1, user_data);
    sqe->op_flags = msg_flags;
}

/// A request that does nothing (used as the end of a link: cancelled when the request before it fails).
static inline void ccorral_prep_nop(struct ccorral_sqe *sqe, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_NOP, -1, 0, 0, user_data);
}

static inline void ccorral_prep_read(struct ccorral_sqe *sqe, int fd, void *buffer, uint32_t len, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_READ, fd, (uint64_t)(uintptr_t)buffer, len, user_data);
    sqe->off = (uint64_t)-1;  // the file position (an eventfd has none)
}

/// Cancels every request on `fd` (IORING_ASYNC_CANCEL_FD|ALL, Linux 5.19).
static inline void ccorral_prep_cancel_fd(struct ccorral_sqe *sqe, int fd, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_ASYNC_CANCEL, fd, 0, 0, user_data);
    sqe->op_flags = CCORRAL_ASYNC_CANCEL_FD | CCORRAL_ASYNC_CANCEL_ALL;
}

/// Cancels the request whose user_data is `target`.
static inline void ccorral_prep_cancel(struct ccorral_sqe *sqe, uint64_t target, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_ASYNC_CANCEL, -1, target, 0, user_data);
}

static inline void ccorral_prep_close(struct ccorral_sqe *sqe, int fd, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_CLOSE, fd, 0, 0, user_data);
}

static inline void ccorral_prep_shutdown(struct ccorral_sqe *sqe, int fd, int how, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_SHUTDOWN, fd, 0, (uint32_t)how, user_data);
}

/// Posts a completion with `data` as user_data (and `result` as res) to the ring `target_fd`
/// (IORING_OP_MSG_RING, Linux 5.18): a wake-up of another loop without an eventfd.
static inline void ccorral_prep_msg_ring(struct ccorral_sqe *sqe, int target_fd, uint32_t result, uint64_t data,
                                         uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_MSG_RING, target_fd, CCORRAL_MSG_DATA, result, user_data);
    sqe->off = data;
}

/// splice(2) of `len` bytes from `fd_in` at `off_in` (-1: its position) to `fd_out`.
static inline void ccorral_prep_splice(struct ccorral_sqe *sqe, int fd_in, int64_t off_in, int fd_out, uint32_t len,
                                       uint32_t splice_flags, uint64_t user_data) {
    ccorral_prep(sqe, CCORRAL_OP_SPLICE, fd_out, (uint64_t)off_in, len, user_data);
    sqe->off = (uint64_t)-1;
    sqe->file_index = fd_in;
    sqe->op_flags = splice_flags;
}

#endif
