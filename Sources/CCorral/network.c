#include "CCorral.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <time.h>

const int ccorral_SO_TIMESTAMPNS = SO_TIMESTAMPNS;

int ccorral_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int ccorral_tap_open(const char *name) {
    if (strlen(name) >= IFNAMSIZ) { errno = ENAMETOOLONG; return -1; }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &request) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

void ccorral_trace_marker(unsigned long cookie, unsigned long sequence) {
    int saved = errno;
    (void)prctl(0x434f5252, sequence, cookie, 0, 0);
    errno = saved;
}

long ccorral_recv_timestamped(int fd, void *buffer, unsigned long length, long long *stamp) {
    struct iovec iov = { .iov_base = buffer, .iov_len = length };
    union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t got = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (got < 0) return -1;
    *stamp = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            *stamp = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        }
    }
    return (long)got;
}

int ccorral_realtime_thread(int priority) {
    struct sched_param param = { .sched_priority = priority };
    return sched_setscheduler(0, SCHED_FIFO, &param);
}
