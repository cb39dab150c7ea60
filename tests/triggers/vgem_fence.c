/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vgem_fence — provoke real dma_fence events from the vgem driver.
 *
 * Usage: vgem_fence [N]      (default 5; prints "fences=N" on success)
 *
 * Each round:
 *   1. creates a dumb buffer on the vgem device     (DRM_IOCTL_MODE_CREATE_DUMB)
 *   2. attaches a write fence to it                 (DRM_IOCTL_VGEM_FENCE_ATTACH)
 *                                                   -> dma_fence_init
 *   3. exports it as a dma-buf                      (DRM_IOCTL_PRIME_HANDLE_TO_FD)
 *   4. starts a thread that blocks in DMA_BUF_IOCTL_SYNC(START|READ) until the write
 *      fence signals                                -> dma_fence_wait_start
 *   5. once that thread sleeps, signals the fence   (DRM_IOCTL_VGEM_FENCE_SIGNAL)
 *                                                   -> dma_fence_signaled, then
 *                                                      dma_fence_wait_end
 * so a run of N rounds gives at least N of each of init / signaled / wait_start /
 * wait_end with driver "vgem". Exit status: 0 ok, 1 a round failed, 77 no vgem device
 * (load the module: insmod vgem.ko).
 *
 * Builds with libc and the kernel's uapi headers only (gcc -static -pthread): Debian's
 * linux-libc-dev ships linux/dma-buf.h but not the drm/ headers (those come with
 * libdrm-dev), so the few DRM and vgem definitions needed are declared below, copied
 * from the stable uapi (include/uapi/drm/drm.h, drm_mode.h, vgem_drm.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* --- uapi: drm/drm.h ------------------------------------------------------------ */
#define DRM_IOCTL_BASE 'd'
#define DRM_IOWR(nr, type) _IOWR(DRM_IOCTL_BASE, nr, type)
#define DRM_IOW(nr, type) _IOW(DRM_IOCTL_BASE, nr, type)
#define DRM_COMMAND_BASE 0x40

struct drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	__kernel_size_t name_len;
	char *name;
	__kernel_size_t date_len;
	char *date;
	__kernel_size_t desc_len;
	char *desc;
};

struct drm_gem_close {
	__u32 handle;
	__u32 pad;
};

struct drm_prime_handle {
	__u32 handle;
	__u32 flags; /* DRM_CLOEXEC | DRM_RDWR */
	__s32 fd;
};
#define DRM_CLOEXEC O_CLOEXEC
#define DRM_RDWR O_RDWR

#define DRM_IOCTL_VERSION DRM_IOWR(0x00, struct drm_version)
#define DRM_IOCTL_GEM_CLOSE DRM_IOW(0x09, struct drm_gem_close)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD DRM_IOWR(0x2d, struct drm_prime_handle)

/* --- uapi: drm/drm_mode.h -------------------------------------------------------- */
struct drm_mode_create_dumb {
	__u32 height;
	__u32 width;
	__u32 bpp;
	__u32 flags;
	__u32 handle;
	__u32 pitch;
	__u64 size;
};
#define DRM_IOCTL_MODE_CREATE_DUMB DRM_IOWR(0xB2, struct drm_mode_create_dumb)

/* --- uapi: drm/vgem_drm.h (since 4.10) ------------------------------------------ */
struct drm_vgem_fence_attach {
	__u32 handle;
	__u32 flags;
#define VGEM_FENCE_WRITE 0x1
	__u32 out_fence;
	__u32 pad;
};

struct drm_vgem_fence_signal {
	__u32 fence;
	__u32 flags;
};
#define DRM_VGEM_FENCE_ATTACH 0x1
#define DRM_VGEM_FENCE_SIGNAL 0x2
#define DRM_IOCTL_VGEM_FENCE_ATTACH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_VGEM_FENCE_ATTACH, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL \
	DRM_IOW(DRM_COMMAND_BASE + DRM_VGEM_FENCE_SIGNAL, struct drm_vgem_fence_signal)

/* --------------------------------------------------------------------------------- */

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret;
}

/* Opens the DRM node whose driver is "vgem"; the primary (card) node, because
 * DRM_IOCTL_MODE_CREATE_DUMB is not allowed on render nodes. */
static int open_vgem(char *path, size_t len)
{
	DIR *dir = opendir("/dev/dri");
	struct dirent *de;
	int found = -1;

	if (!dir)
		return -1;
	while (found < 0 && (de = readdir(dir))) {
		char name[64] = { 0 };
		struct drm_version v = { 0 };
		int fd;

		if (strncmp(de->d_name, "card", 4) != 0)
			continue;
		snprintf(path, len, "/dev/dri/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v.name = name;
		v.name_len = sizeof(name) - 1;
		if (xioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0)
			found = fd;
		else
			close(fd);
	}
	closedir(dir);
	return found;
}

struct waiter {
	int dmabuf;
	pid_t tid;        /* set by the thread */
	int err;          /* errno of the failed SYNC, 0 on success */
	volatile int started;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };

	w->tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	/* Blocks in dma_resv wait -> dma_fence_wait_timeout() until the write fence
	 * signals. */
	if (xioctl(w->dmabuf, DMA_BUF_IOCTL_SYNC, &sync) != 0) {
		w->err = errno;
		return NULL;
	}
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	if (xioctl(w->dmabuf, DMA_BUF_IOCTL_SYNC, &sync) != 0)
		w->err = errno;
	return NULL;
}

/* 1 once thread tid sleeps (state S or D), after at most ~5 s of polling. */
static int wait_until_blocked(pid_t tid)
{
	char path[64], buf[512];
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (int i = 0; i < 2500; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		char *p;

		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0) {
				buf[n] = '\0';
				p = strrchr(buf, ')');
				if (p && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D'))
					return 1;
			}
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int one_round(int drm, int round)
{
	struct drm_mode_create_dumb dumb = { .height = 64, .width = 64, .bpp = 32 };
	struct drm_vgem_fence_attach attach = { 0 };
	struct drm_vgem_fence_signal sig = { 0 };
	struct drm_prime_handle prime = { 0 };
	struct drm_gem_close gclose = { 0 };
	struct waiter w = { .dmabuf = -1 };
	pthread_t th;
	int ok = 0;

	if (xioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) != 0) {
		fprintf(stderr, "vgem_fence: round %d: CREATE_DUMB: %s\n", round, strerror(errno));
		return -1;
	}
	attach.handle = dumb.handle;
	attach.flags = VGEM_FENCE_WRITE;
	if (xioctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach) != 0) {
		fprintf(stderr, "vgem_fence: round %d: FENCE_ATTACH: %s\n", round, strerror(errno));
		goto out_gem;
	}
	prime.handle = dumb.handle;
	prime.flags = DRM_CLOEXEC | DRM_RDWR;
	if (xioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) != 0) {
		/* Older kernels refuse DRM_RDWR on some drivers; read access is enough. */
		prime.flags = DRM_CLOEXEC;
		if (xioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) != 0) {
			fprintf(stderr, "vgem_fence: round %d: PRIME_HANDLE_TO_FD: %s\n", round,
				strerror(errno));
			goto out_signal;
		}
	}
	w.dmabuf = prime.fd;
	if (pthread_create(&th, NULL, wait_thread, &w) != 0) {
		fprintf(stderr, "vgem_fence: round %d: pthread_create failed\n", round);
		goto out_signal;
	}
	while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
		sched_yield();
	if (!wait_until_blocked(w.tid))
		fprintf(stderr, "vgem_fence: round %d: waiter never blocked\n", round);
	sig.fence = attach.out_fence;
	if (xioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &sig) != 0) {
		/* vgem signals unsignaled fences itself after 10 s; the waiter still ends. */
		fprintf(stderr, "vgem_fence: round %d: FENCE_SIGNAL: %s\n", round, strerror(errno));
	} else {
		ok = 1;
	}
	attach.out_fence = 0;
	pthread_join(th, NULL);
	if (w.err) {
		fprintf(stderr, "vgem_fence: round %d: DMA_BUF_IOCTL_SYNC: %s\n", round,
			strerror(w.err));
		ok = 0;
	}
out_signal:
	if (attach.out_fence) {
		sig.fence = attach.out_fence;
		xioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &sig);
	}
	if (w.dmabuf >= 0)
		close(w.dmabuf);
out_gem:
	gclose.handle = dumb.handle;
	xioctl(drm, DRM_IOCTL_GEM_CLOSE, &gclose);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	char path[300];
	long n = 5;
	int drm, done = 0;

	if (argc > 1) {
		char *end;

		n = strtol(argv[1], &end, 10);
		if (*end || n < 1 || n > 1000000) {
			fprintf(stderr, "usage: %s [N]  (1..1000000 fence rounds)\n", argv[0]);
			return 2;
		}
	}
	drm = open_vgem(path, sizeof(path));
	if (drm < 0) {
		fprintf(stderr, "vgem_fence: no vgem device under /dev/dri (insmod vgem.ko)\n");
		return 77;
	}
	for (long i = 0; i < n; i++)
		if (one_round(drm, (int)i) == 0)
			done++;
	close(drm);
	printf("fences=%d\n", done);
	return done == n ? 0 : 1;
}
