#include "CCorral.h"
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

const uint32_t ccorral_EPOLLIN = EPOLLIN;
const uint32_t ccorral_EPOLLOUT = EPOLLOUT;
const uint32_t ccorral_EPOLLERR = EPOLLERR;
const uint32_t ccorral_EPOLLHUP = EPOLLHUP;
const uint32_t ccorral_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t ccorral_EPOLLET = EPOLLET;
const uint32_t ccorral_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int ccorral_EPOLL_CLOEXEC = EPOLL_CLOEXEC;

const int ccorral_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int ccorral_SOCK_CLOEXEC = SOCK_CLOEXEC;
const int ccorral_SOCK_STREAM = SOCK_STREAM;
const int ccorral_MSG_MORE = MSG_MORE;
const int ccorral_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int ccorral_MSG_DONTWAIT = MSG_DONTWAIT;
const int ccorral_MSG_WAITALL = MSG_WAITALL;
const int ccorral_TCP_CORK = TCP_CORK;
const int ccorral_TCP_NODELAY = TCP_NODELAY;
const int ccorral_EFD_NONBLOCK = EFD_NONBLOCK;
const int ccorral_EFD_CLOEXEC = EFD_CLOEXEC;
const int ccorral_IOV_MAX = IOV_MAX;

int ccorral_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// The event loops' per-message syscalls (recv, send, epoll_wait) go through syscall(2), not
// glibc's wrappers: those are pthread cancellation points, and the asynchronous-cancellation
// switch around each call (__pthread_enable/disable_asynccancel) cost ~30 instructions per
// syscall, a tenth of the echo path's user space. Corral never cancels a thread. Under
// ThreadSanitizer the wrappers stay: TSan intercepts them to see the happens-before edges a
// socket carries between threads.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CCORRAL_LIBC_WRAPPERS 1
#endif
#endif

ssize_t ccorral_recv(int fd, void *buffer, size_t length, int flags) {
#ifdef CCORRAL_LIBC_WRAPPERS
    return recv(fd, buffer, length, flags);
#else
    return syscall(SYS_recvfrom, fd, buffer, length, flags, NULL, NULL);
#endif
}

ssize_t ccorral_send(int fd, const void *buffer, size_t length, int flags) {
#ifdef CCORRAL_LIBC_WRAPPERS
    return send(fd, buffer, length, flags);
#else
    return syscall(SYS_sendto, fd, buffer, length, flags, NULL, 0);
#endif
}

int ccorral_epoll_wait(int epfd, struct epoll_event *events, int capacity, int timeout) {
#ifdef CCORRAL_LIBC_WRAPPERS
    return epoll_wait(epfd, events, capacity, timeout);
#else
    // epoll_pwait with no signal mask is epoll_wait, and exists on every architecture.
    return (int)syscall(SYS_epoll_pwait, epfd, events, capacity, timeout, NULL, (size_t)8);
#endif
}

ssize_t ccorral_sendmsg_iov(int fd, const struct iovec *iov, int iovcnt, int flags) {
    // One piece (a small response rendered contiguously): send(2), which spares the kernel
    // copying a msghdr and importing an iovec array.
    if (iovcnt == 1) return ccorral_send(fd, iov[0].iov_base, iov[0].iov_len, flags | MSG_NOSIGNAL);
    struct msghdr msg = {0};
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)iovcnt;
    return sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
}

int ccorral_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

int ccorral_affinity_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int ccorral_affinity_nth_cpu(int n) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set)) {
            if (seen == n) return cpu;
            seen++;
        }
    }
    return -1;
}

int ccorral_gettid(void) { return (int)syscall(SYS_gettid); }

int ccorral_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int ccorral_sched_yield(void) { return sched_yield(); }

int ccorral_openat_beneath(int dirfd, const char *path) {
    struct open_how how = {0};
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (and freeze the
       event loop); it changes nothing for regular files. O_NOCTTY: a terminal device in the
       tree must never become our controlling terminal. */
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int ccorral_errno(void) { return errno; }
void ccorral_set_errno(int value) { errno = value; }

int ccorral_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ccorral_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

int ccorral_send_fds(int socket, const int *fds, int count) {
    if (count < 1 || count > 64) { errno = EINVAL; return -1; }
    char byte = 'F';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * 64)]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
    ssize_t sent = sendmsg(socket, &msg, MSG_NOSIGNAL);  // EINTR: the caller (System/) retries
    if (sent == 0) { errno = EPIPE; return -1; }
    return sent == 1 ? 0 : -1;
}

int ccorral_recv_fds(int socket, int *fds, int max) {
    if (max < 1 || max > 64) { errno = EINVAL; return -1; }
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * 64)]; struct cmsghdr align; } control;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t got = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);  // EINTR: the caller (System/) retries
    if (got <= 0) return (int)got;
    int count = 0;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            int n = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                if (count < max) fds[count++] = fd; else close(fd);
            }
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) { errno = EMSGSIZE; for (int i = 0; i < count; i++) close(fds[i]); return -1; }
    return count;
}

int ccorral_private_network_for_thread(void) {
    if (unshare(CLONE_NEWNET) != 0) return -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int result = ioctl(fd, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int ccorral_signalfd(const sigset_t *mask) { return signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC); }

int ccorral_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t got = read(fd, &info, sizeof(info));
    if (got != (ssize_t)sizeof(info)) return -1;
    return (int)info.ssi_signo;
}
