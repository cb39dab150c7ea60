// SPDX-License-Identifier: GPL-2.0
/*
 * ksight_sched_test - run a few jobs through a real DRM GPU scheduler (gpu-sched.ko), so
 * the gpu probe's gpu.job records can be checked against real gpu_scheduler events in the
 * tests/vm guests (no machine of the matrix has a drm_sched driver: vgem does not use it).
 *
 *   insmod ksight_sched_test.ko jobs=N
 *
 * At load it creates a scheduler named "ksight0" on a root device "ksight_sched", one
 * entity, and pushes N jobs from the insmod task; each job's "hardware" fence (driver
 * "ksight_sched", timeline "ksight0") signals at once in run_job. It waits for all N to
 * be freed, tears everything down and stays loaded doing nothing (rmmod it). The kernel
 * log gets "ksight_sched_test: jobs=N done=N". Load fails (-ETIMEDOUT) if the jobs did not
 * finish within 10 s.
 *
 * Built against Debian's linux-headers of one kernel (tests/vm/build-sched-module.sh).
 * Two scheduler APIs are covered: 5.10's (drm_sched_init with 6 arguments, timedout_job
 * returning void, drm_sched_job_init arming the job, push_job with the entity) and
 * 6.1's (9 arguments, drm_sched_job_arm, enum drm_gpu_sched_stat). Later kernels changed
 * it again (credits, an init-args struct, a client id): not supported.
 */
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/dma-fence.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <drm/gpu_scheduler.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#error "ksight_sched_test supports the scheduler API of 5.10 and 6.1 only"
#endif
/* 5.10's API (no timeout status, 6-argument drm_sched_init, no drm_sched_job_arm) or 6.1's. */
#define KS_OLD_API (LINUX_VERSION_CODE < KERNEL_VERSION(5, 13, 0))

static unsigned int jobs = 5;
module_param(jobs, uint, 0444);
MODULE_PARM_DESC(jobs, "jobs to run through the scheduler (default 5)");

struct ks_job {
	struct drm_sched_job base;
};

static struct device *ks_dev;
static struct drm_gpu_scheduler ks_sched;
static struct drm_sched_entity ks_entity;
static DEFINE_SPINLOCK(ks_fence_lock);
static u64 ks_fence_ctx;
static u64 ks_seqno;
static atomic_t ks_done;
static DECLARE_COMPLETION(ks_all_done);

static const char *ks_driver_name(struct dma_fence *f)
{
	return "ksight_sched";
}

static const char *ks_timeline_name(struct dma_fence *f)
{
	return "ksight0";
}

/* release left NULL: dma_fence_free() (kfree_rcu) frees the kzalloc'd fence. */
static const struct dma_fence_ops ks_fence_ops = {
	.get_driver_name = ks_driver_name,
	.get_timeline_name = ks_timeline_name,
};

/* No dependencies. Optional from 5.16 on, but 5.10's drm_sched_entity_pop_job() calls it
 * unconditionally (a NULL op oopses the scheduler thread). */
static struct dma_fence *ks_dependency(struct drm_sched_job *job, struct drm_sched_entity *entity)
{
	return NULL;
}

static struct dma_fence *ks_run_job(struct drm_sched_job *job)
{
	struct dma_fence *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return ERR_PTR(-ENOMEM);
	/* run_job is called from the scheduler thread only: no race on ks_seqno. */
	dma_fence_init(f, &ks_fence_ops, &ks_fence_lock, ks_fence_ctx, ++ks_seqno);
	/* The "hardware" is done at once; the scheduler takes over our reference. */
	dma_fence_signal(f);
	return f;
}

#if KS_OLD_API
static void ks_timedout_job(struct drm_sched_job *job)
{
}
#else
static enum drm_gpu_sched_stat ks_timedout_job(struct drm_sched_job *job)
{
	return DRM_GPU_SCHED_STAT_NOMINAL;
}
#endif

static void ks_free_job(struct drm_sched_job *job)
{
	drm_sched_job_cleanup(job);
	kfree(container_of(job, struct ks_job, base));
	if (atomic_inc_return(&ks_done) == jobs)
		complete(&ks_all_done);
}

static const struct drm_sched_backend_ops ks_ops = {
	.dependency = ks_dependency,
	.run_job = ks_run_job,
	.timedout_job = ks_timedout_job,
	.free_job = ks_free_job,
};

static int __init ks_init(void)
{
	struct drm_gpu_scheduler *list[] = { &ks_sched };
	unsigned int i, pushed = 0;
	int r;

	ks_dev = root_device_register("ksight_sched");
	if (IS_ERR(ks_dev))
		return PTR_ERR(ks_dev);
	ks_fence_ctx = dma_fence_context_alloc(1);
#if KS_OLD_API
	r = drm_sched_init(&ks_sched, &ks_ops, 4, 0, msecs_to_jiffies(10000), "ksight0");
#else
	r = drm_sched_init(&ks_sched, &ks_ops, 4, 0, msecs_to_jiffies(10000), NULL, NULL,
			   "ksight0", ks_dev);
#endif
	if (r)
		goto out_dev;
	r = drm_sched_entity_init(&ks_entity, DRM_SCHED_PRIORITY_NORMAL, list, 1, NULL);
	if (r)
		goto out_sched;
	for (i = 0; i < jobs; i++) {
		struct ks_job *j = kzalloc(sizeof(*j), GFP_KERNEL);

		if (!j) {
			r = -ENOMEM;
			break;
		}
		r = drm_sched_job_init(&j->base, &ks_entity, THIS_MODULE);
		if (r) {
			kfree(j);
			break;
		}
#if KS_OLD_API
		drm_sched_entity_push_job(&j->base, &ks_entity);
#else
		drm_sched_job_arm(&j->base);
		drm_sched_entity_push_job(&j->base);
#endif
		pushed++;
	}
	if (pushed && pushed == jobs &&
	    !wait_for_completion_timeout(&ks_all_done, msecs_to_jiffies(10000)))
		r = -ETIMEDOUT;
	drm_sched_entity_destroy(&ks_entity);
out_sched:
	drm_sched_fini(&ks_sched);
out_dev:
	root_device_unregister(ks_dev);
	pr_info("ksight_sched_test: jobs=%u pushed=%u done=%d rc=%d\n", jobs, pushed,
		atomic_read(&ks_done), r);
	return r;
}

static void __exit ks_exit(void)
{
}

module_init(ks_init);
module_exit(ks_exit);
MODULE_DESCRIPTION("ksight test: jobs through a real DRM GPU scheduler");
MODULE_LICENSE("GPL");
