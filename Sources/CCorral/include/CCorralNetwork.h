// CCorral, network emulation: what the lab needs to put a client and a server on two emulated
// hosts (network namespaces joined by TAP devices) and to mark its intervals for a tracer.
#ifndef CCORRAL_NETWORK_H
#define CCORRAL_NETWORK_H

/// setns(2) into the network namespace `fd` refers to (a /proc/…/ns/net descriptor). Namespaces
/// belong to threads: only the calling thread moves. Needs CAP_SYS_ADMIN. 0, or -1 with errno.
int ccorral_enter_network_namespace(int fd);

/// Opens /dev/net/tun and attaches the TAP device `name` (IFF_TAP | IFF_NO_PI: whole Ethernet
/// frames, no packet-information header), creating it in the calling thread's network namespace.
/// The descriptor is non-blocking and close-on-exec; the device disappears when it is closed.
/// Returns the descriptor, or -1 with errno.
int ccorral_tap_open(const char *name);

/// prctl(2) with an option no kernel defines ('CORR'), which fails with EINVAL and does nothing:
/// a tracer attached to tracepoint:syscalls:sys_enter_prctl sees `cookie` (which tracer) and
/// `sequence` and knows where one of the lab's measured intervals ends.
void ccorral_trace_marker(unsigned long cookie, unsigned long sequence);

/// SO_TIMESTAMPNS (a macro alias Swift does not import).
extern const int ccorral_SO_TIMESTAMPNS;

/// recvmsg(2) of one datagram with the kernel's receive timestamp (SO_TIMESTAMPNS must be on):
/// CLOCK_REALTIME nanoseconds in *stamp, 0 when the datagram carried none. Returns the length,
/// or -1 with errno.
long ccorral_recv_timestamped(int fd, void *buffer, unsigned long length, long long *stamp);

/// Makes the calling thread SCHED_FIFO at `priority` (sched_setscheduler(2); needs
/// CAP_SYS_NICE). 0, or -1 with errno.
int ccorral_realtime_thread(int priority);

#endif
