// LD_PRELOAD allocation counter for the benchmarks (Benchmarks/echo.py builds it with cc).
//
// Counts every call that allocates heap memory (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign, valloc) in the process it is preloaded into, with relaxed atomic
// adds, and keeps the count in an 8-byte file (MALLOC_COUNTER_FILE) mapped shared, so the
// benchmark reads it at any moment without signals or cooperation from the server. The real
// work is done by glibc's own exported entry points (__libc_malloc, ...), so no dlsym is needed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t early;            // counts before the file is mapped
static uint64_t *counter = &early;

__attribute__((constructor)) static void map_counter(void) {
    const char *path = getenv("MALLOC_COUNTER_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) != 0) return;
    void *mapped = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mapped == MAP_FAILED) return;
    __atomic_store_n((uint64_t *)mapped, early, __ATOMIC_RELAXED);
    counter = mapped;
}

static inline void count(void) { __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { count(); return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
