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
 * Four scheduler APIs are covered: 5.10's (drm_sched_init with 6 arguments, timedout_job
 * returning void, drm_sched_job_init arming the job, push_job with the entity), 6.1's
 * (9 arguments, drm_sched_job_arm, enum drm_gpu_sched_stat), 6.7's (submit_wq, num_rqs and
 * credit_limit in drm_sched_init, credits in drm_sched_job_init) and 6.15's and later
 * (struct drm_sched_init_args; 6.17: drm_client_id in drm_sched_job_init,
 * DRM_GPU_SCHED_STAT_NOMINAL renamed DRM_GPU_SCHED_STAT_RESET). From 6.1 on the Kbuild file
 * tells them apart by what <drm/gpu_scheduler.h> declares (KS_* macros), since
 * distributions backport scheduler changes (Debian's 6.12 has the init-args struct and the
 * client id); 5.10 vs 6.1 by LINUX_VERSION_CODE (kernels in between are not covered).
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

/* 5.10's API (no timeout status, 6-argument drm_sched_init, no drm_sched_job_arm) or later. */
#define KS_OLD_API (LINUX_VERSION_CODE < KERNEL_VERSION(5, 13, 0))
#if !KS_OLD_API && !defined(KS_INIT_ARGS) && !defined(KS_INIT_CREDITS) && \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#error "ksight_sched_test: drm_sched_init form not detected (build it with its Kbuild file)"
#endif

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

#ifdef KS_DEPENDENCY_OP
/* No dependencies. Optional from 5.16 on, but 5.10's drm_sched_entity_pop_job() calls it
 * unconditionally (a NULL op oopses the scheduler thread). Gone in 6.3 (prepare_job, optional). */
static struct dma_fence *ks_dependency(struct drm_sched_job *job, struct drm_sched_entity *entity)
{
	return NULL;
}
#endif

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
#ifdef KS_STAT_RESET
	return DRM_GPU_SCHED_STAT_RESET;
#else
	return DRM_GPU_SCHED_STAT_NOMINAL;
#endif
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
#ifdef KS_DEPENDENCY_OP
	.dependency = ks_dependency,
#endif
	.run_job = ks_run_job,
	.timedout_job = ks_timedout_job,
	.free_job = ks_free_job,
};

/* A scheduler of at most 4 jobs in flight, no hang limit, a 10 s job timeout, on ks_dev. */
static int ks_sched_init(void)
{
#if defined(KS_INIT_ARGS)
	const struct drm_sched_init_args args = {
		.ops = &ks_ops,
		.num_rqs = DRM_SCHED_PRIORITY_COUNT,
		.credit_limit = 4,
		.timeout = msecs_to_jiffies(10000),
		.name = "ksight0",
		.dev = ks_dev,
	};

	return drm_sched_init(&ks_sched, &args);
#elif defined(KS_INIT_CREDITS)
	return drm_sched_init(&ks_sched, &ks_ops, NULL, DRM_SCHED_PRIORITY_COUNT, 4, 0,
			      msecs_to_jiffies(10000), NULL, NULL, "ksight0", ks_dev);
#elif KS_OLD_API
	return drm_sched_init(&ks_sched, &ks_ops, 4, 0, msecs_to_jiffies(10000), "ksight0");
#else
	return drm_sched_init(&ks_sched, &ks_ops, 4, 0, msecs_to_jiffies(10000), NULL, NULL,
			      "ksight0", ks_dev);
#endif
}

/* One job of one credit, queued by this module (the owner). */
static int ks_job_init(struct ks_job *j)
{
#if defined(KS_JOB_CLIENT_ID)
	return drm_sched_job_init(&j->base, &ks_entity, 1, THIS_MODULE, 0);
#elif defined(KS_JOB_CREDITS)
	return drm_sched_job_init(&j->base, &ks_entity, 1, THIS_MODULE);
#else
	return drm_sched_job_init(&j->base, &ks_entity, THIS_MODULE);
#endif
}

static int __init ks_init(void)
{
	struct drm_gpu_scheduler *list[] = { &ks_sched };
	unsigned int i, pushed = 0;
	int r;

	ks_dev = root_device_register("ksight_sched");
	if (IS_ERR(ks_dev))
		return PTR_ERR(ks_dev);
	ks_fence_ctx = dma_fence_context_alloc(1);
	r = ks_sched_init();
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
		r = ks_job_init(j);
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
