// CCorral: the few Linux facilities Swift cannot import cleanly from Glibc.
// Every symbol is prefixed `ccorral_`. Macros become functions or constants; raw syscalls
// without a glibc wrapper (openat2) are called through syscall(2).
#ifndef CCORRAL_H
#define CCORRAL_H

#ifndef __linux__
#error "Corral is Linux only"
#endif

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <limits.h>
#include "CCorralNetwork.h"
#include "CCorralURing.h"

// MARK: epoll flags (some are macros of unsigned shifts that Swift imports with the wrong type)
extern const uint32_t ccorral_EPOLLIN;
extern const uint32_t ccorral_EPOLLOUT;
extern const uint32_t ccorral_EPOLLERR;
extern const uint32_t ccorral_EPOLLHUP;
extern const uint32_t ccorral_EPOLLRDHUP;
extern const uint32_t ccorral_EPOLLET;
extern const uint32_t ccorral_EPOLLEXCLUSIVE;
extern const int ccorral_EPOLL_CLOEXEC;

// MARK: socket flags and options
extern const int ccorral_SOCK_NONBLOCK;
extern const int ccorral_SOCK_CLOEXEC;
extern const int ccorral_SOCK_STREAM;
extern const int ccorral_MSG_MORE;
extern const int ccorral_MSG_NOSIGNAL;
extern const int ccorral_MSG_DONTWAIT;
extern const int ccorral_MSG_WAITALL;
extern const int ccorral_TCP_CORK;
extern const int ccorral_TCP_NODELAY;
extern const int ccorral_EFD_NONBLOCK;
extern const int ccorral_EFD_CLOEXEC;
extern const int ccorral_IOV_MAX;

/// accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC.
int ccorral_accept4(int fd, struct sockaddr *addr, socklen_t *len);

/// recv(2), send(2) and epoll_wait(2) without glibc's cancellation-point wrappers (shim.c says
/// why): -1 with errno as the wrappers.
ssize_t ccorral_recv(int fd, void *buffer, size_t length, int flags);
ssize_t ccorral_send(int fd, const void *buffer, size_t length, int flags);
int ccorral_epoll_wait(int epfd, struct epoll_event *events, int capacity, int timeout);

/// sendmsg(2) of an iovec array with the given flags (MSG_NOSIGNAL is always added); send(2) when
/// there is one piece.
ssize_t ccorral_sendmsg_iov(int fd, const struct iovec *iov, int iovcnt, int flags);

/// Pins the calling thread to one CPU (CPU_SET is a macro). Returns 0 or -1 with errno.
int ccorral_pin_to_cpu(int cpu);
/// Number of CPUs in the calling thread's affinity mask (CPU_COUNT is a macro), or -1 with errno.
int ccorral_affinity_cpu_count(void);
/// The index of the n-th CPU (0-based) in the calling thread's affinity mask, or -1.
int ccorral_affinity_nth_cpu(int n);
/// pipe2(2) with O_CLOEXEC (GNU).
int ccorral_pipe2_cloexec(int fds[2]);
/// Names the calling thread (pthread_setname_np is GNU), at most 15 bytes.
int ccorral_set_thread_name(const char *name);
/// gettid(2).
int ccorral_gettid(void);

/// pidfd_open(2) (Linux 5.3): a descriptor that polls readable when the process exits, so a
/// parent can wait for a child with a timeout without polling waitpid. -1 and errno on failure.
int ccorral_pidfd_open(pid_t pid);
/// sched_yield(2): used only by the lab's `yield` experiment, which measures what it costs.
int ccorral_sched_yield(void);

/// openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS and O_RDONLY|O_CLOEXEC|O_NOFOLLOW-free
/// resolution: the result never escapes `dirfd`. Returns the fd, or -1 with errno (ENOSYS on kernels < 5.6).
int ccorral_openat_beneath(int dirfd, const char *path);

/// Sends `count` descriptors over a UNIX socket with one byte of data (SCM_RIGHTS; CMSG_* are macros).
/// Returns 0 or -1 with errno (EINTR is left to the caller).
int ccorral_send_fds(int socket, const int *fds, int count);
/// Receives up to `max` descriptors sent by ccorral_send_fds (made close-on-exec). Returns how many
/// arrived (0 at end of file), or -1 with errno (EINTR is left to the caller).
int ccorral_recv_fds(int socket, int *fds, int max);

/// Moves the calling thread (only it: namespaces are per task) into a new network namespace
/// and brings its loopback interface up, so the lab's TCP counters count only its own traffic.
/// Needs CAP_SYS_ADMIN. Returns 0 or -1 with errno.
int ccorral_private_network_for_thread(void);

/// signalfd(2) for `mask`, non-blocking and close-on-exec (<sys/signalfd.h> is not in Swift's
/// Glibc module). -1 and errno on failure.
int ccorral_signalfd(const sigset_t *mask);
/// Reads one signalfd_siginfo from `fd` and returns its signal number, or -1 with errno (EAGAIN:
/// nothing pending).
int ccorral_signalfd_read(int fd);

/// Reads the errno of the calling thread (errno is a macro).
int ccorral_errno(void);
void ccorral_set_errno(int value);

#endif
