// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp_retransmit - one ring record per retransmitted TCP segment, SYN-ACK
 * or tail loss probe, with the socket's tuple, state, netns, congestion
 * state and the socket's owner.
 *
 * Hooks (the agent picks one flavor per hook at start with set_autoload):
 *   tcp:tcp_retransmit_skb      tp_btf, or the classic tracepoint
 *   tcp:tcp_retransmit_synack   tp_btf, or the classic tracepoint
 *   sock:inet_sock_set_state    tp_btf, or the classic tracepoint: fills
 *                               the socket-owner map, cleans it on close
 *
 * Tail loss probes need no hook of their own: tcp_send_loss_probe() runs
 * from the retransmit timer with icsk_pending still ICSK_TIME_LOSS_PROBE and
 * the congestion state Open or CWR, a combination no other retransmit path
 * has (the RTO path clears icsk_pending first; fast retransmit, RACK and
 * the PMTU path retransmit in Recovery or Loss). So a retransmit seen in that
 * state is kind "tlp". (fentry on tcp_send_loss_probe would say the same,
 * but fentry cannot load on every host that runs tracepoints.)
 *
 * Retransmits usually run in softirq or a timer, where the task on the CPU
 * is unrelated to the socket. The owner is the task that connected,
 * listened or accepted, remembered in "owners" keyed by the socket's
 * address (never exported) and removed when the socket reaches TCP_CLOSE.
 */
#include "ksight_common.bpf.h"
#include "core_fixes.bpf.h"
#include <bpf/bpf_endian.h>

#include "tcp_retransmit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings written by the agent before load. */
const volatile __u32 nports = 0; /* 0: every port */
const volatile __u16 ports[KS_TCP_MAX_PORTS] = {};

/* The kernel's tick rate, for icsk_rto (jiffies) -> ms; 0 if libbpf cannot read the config. */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* TCP states (include/net/tcp_states.h); vmlinux.h has them as enum values. */
#define KS_TCP_ESTABLISHED 1
#define KS_TCP_SYN_SENT 2
#define KS_TCP_SYN_RECV 3
#define KS_TCP_CLOSE 7
#define KS_TCP_LISTEN 10
#define KS_IPPROTO_TCP 6
/* include/net/inet_connection_sock.h (a #define: not in BTF), stable since 3.10. */
#define KS_ICSK_TIME_LOSS_PROBE 5

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* live TCP sockets with a known owner; sized by the agent */
	__type(key, __u64);
	__type(value, struct ks_tcp_owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* listening (netns, port) pairs */
	__type(key, struct ks_tcp_listen_key);
	__type(value, struct ks_tcp_listener);
} listeners SEC(".maps");

KS_DECLARE_RING(ring);

static __always_inline bool port_wanted(__u16 sport, __u16 dport)
{
	if (!nports)
		return true;
#pragma unroll
	for (int i = 0; i < KS_TCP_MAX_PORTS; i++) {
		if (i >= nports)
			break;
		if (ports[i] == sport || ports[i] == dport)
			return true;
	}
	return false;
}

static __always_inline __u32 netns_ino(const struct sock_common *c)
{
	return BPF_CORE_READ(c, skc_net.net, ns.inum);
}

static __always_inline void owner_from_current(struct ks_tcp_owner *o, __u32 how)
{
	ks_fill_current_task(&o->task);
	o->how = how;
	o->pad = 0;
}

static __always_inline void remember_owner(__u64 key, const struct ks_tcp_owner *o)
{
	/* An update of a key already present never fails for lack of room. */
	if (bpf_map_update_elem(&owners, &key, o, BPF_ANY))
		ks_count(KS_CNT_MAP_FULL);
}

/* A passive open: the new socket inherits its listener's owner (until accept() says better). */
static __always_inline void inherit_listener(const struct sock *sk)
{
	struct ks_tcp_listen_key lk = {};
	struct ks_tcp_listener *l;
	struct ks_tcp_owner o;
	__u64 key = (__u64)sk;

	if (bpf_map_lookup_elem(&owners, &key))
		return;
	lk.netns_ino = netns_ino(&sk->__sk_common);
	lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	l = bpf_map_lookup_elem(&listeners, &lk);
	if (!l)
		return;
	o = l->owner;
	o.how = KS_TCP_HOW_LISTENER;
	remember_owner(key, &o);
}

static __always_inline void on_state(const struct sock *sk, int oldstate, int newstate)
{
	struct ks_tcp_owner o;
	__u64 key = (__u64)sk;

	switch (newstate) {
	case KS_TCP_SYN_SENT: /* connect(): the caller is the owner */
		if (oldstate != KS_TCP_CLOSE)
			return;
		owner_from_current(&o, KS_TCP_HOW_CONNECT);
		remember_owner(key, &o);
		return;
	case KS_TCP_LISTEN: { /* listen(): the caller owns the listener and, until accept, its children */
		struct ks_tcp_listen_key lk = {};
		struct ks_tcp_listener l = {};

		owner_from_current(&o, KS_TCP_HOW_LISTEN);
		remember_owner(key, &o);
		lk.netns_ino = netns_ino(&sk->__sk_common);
		lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		l.owner = o;
		l.sk = key;
		if (bpf_map_update_elem(&listeners, &lk, &l, BPF_ANY))
			ks_count(KS_CNT_MAP_FULL);
		return;
	}
	case KS_TCP_SYN_RECV: /* a child cloned from its listener (softirq) */
		if (oldstate == KS_TCP_LISTEN)
			inherit_listener(sk);
		return;
	case KS_TCP_ESTABLISHED: /* passive open completed (softirq) */
		if (oldstate == KS_TCP_SYN_RECV)
			inherit_listener(sk);
		return;
	case KS_TCP_CLOSE:
		bpf_map_delete_elem(&owners, &key);
		if (oldstate == KS_TCP_LISTEN) {
			struct ks_tcp_listen_key lk = {};
			struct ks_tcp_listener *l;

			lk.netns_ino = netns_ino(&sk->__sk_common);
			lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
			l = bpf_map_lookup_elem(&listeners, &lk);
			if (l && l->sk == key)
				bpf_map_delete_elem(&listeners, &lk);
		}
		return;
	default:
		return;
	}
}

/*
 * Owner of a socket at a retransmit: the map's, else the task on the CPU when
 * it holds the socket lock (the retransmit then runs in that task's
 * release_sock(): process context), else unknown with the socket's cgroup.
 */
static __always_inline __u8 resolve_owner(const struct sock *sk, bool allow_on_cpu, struct ks_task *t,
					  __u8 *how)
{
	__u64 key = (__u64)sk;
	struct ks_tcp_owner *o = bpf_map_lookup_elem(&owners, &key);

	if (o) {
		*t = o->task;
		*how = (__u8)o->how;
		return KS_TCP_OWNER_SOCKET;
	}
	*how = KS_TCP_HOW_NONE;
	if (allow_on_cpu && BPF_CORE_READ(sk, sk_lock.owned)) {
		ks_fill_current_task(t);
		return KS_TCP_OWNER_ON_CPU;
	}
	__builtin_memset(t, 0, sizeof(*t));
	t->cgroup_id = ks_sock_cgroup_id(sk);
	return KS_TCP_OWNER_UNKNOWN;
}

static __always_inline void read_addrs(struct ks_tcp_retransmit_rec *r, const struct sock_common *c)
{
	if (r->family == KS_AF_INET) {
		bpf_core_read(r->saddr, 4, &c->skc_rcv_saddr);
		bpf_core_read(r->daddr, 4, &c->skc_daddr);
	} else {
		bpf_core_read(r->saddr, 16, &c->skc_v6_rcv_saddr);
		bpf_core_read(r->daddr, 16, &c->skc_v6_daddr);
	}
}

static __always_inline __u32 jiffies_to_ms(__u64 j)
{
	if (!CONFIG_HZ)
		return 0;
	return (__u32)(j * 1000 / CONFIG_HZ);
}

/* Is this retransmit the one tcp_send_loss_probe() sends? (see the top of the file) */
static __always_inline bool in_loss_probe(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (const void *)sk;
	__u8 ca_state;

	if (BPF_CORE_READ(icsk, icsk_pending) != KS_ICSK_TIME_LOSS_PROBE)
		return false;
	ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	return ca_state < TCP_CA_Recovery;
}

/* A data socket retransmitted: kind retransmit, or tlp. */
static __always_inline int on_retransmit(const struct sock *sk, const struct sk_buff *skb)
{
	struct ks_tcp_retransmit_rec *r;
	const struct tcp_sock *tp = (const void *)sk;
	const struct tcp_skb_cb *cb;
	struct ks_task owner;
	__u16 family, sport, dport, segs = 1;
	__u8 src, how, kind = KS_TCP_KIND_RETRANSMIT;

	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != KS_AF_INET && family != KS_AF_INET6)
		return 0;
	sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!port_wanted(sport, dport))
		return 0;
	src = resolve_owner(sk, true, &owner, &how);
	if (!ks_owner_wanted(owner.pid, owner.comm, owner.cgroup_id))
		return 0;

	if (in_loss_probe(sk))
		kind = KS_TCP_KIND_TLP;
	if (skb) {
		cb = (const void *)&skb->cb[0];
		segs = BPF_CORE_READ(cb, tcp_gso_segs);
		if (!segs)
			segs = 1;
	}

	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_TCP_RETRANSMIT);
	if (!r)
		return 0;
	r->owner = owner;
	r->family = family;
	r->sport = sport;
	r->dport = dport;
	r->kind = kind;
	r->owner_source = src;
	r->owner_how = how;
	r->segs = segs;
	r->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r->netns_ino = netns_ino(&sk->__sk_common);
	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	read_addrs(r, &sk->__sk_common);
	r->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	r->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	r->rto_ms = jiffies_to_ms(BPF_CORE_READ(tp, inet_conn.icsk_rto));
	r->retrans_out = BPF_CORE_READ(tp, retrans_out);
	r->lost_out = BPF_CORE_READ(tp, lost_out);
	r->total_retrans = BPF_CORE_READ(tp, total_retrans);
	r->mss = BPF_CORE_READ(tp, mss_cache);
	r->hz = CONFIG_HZ;
	ks_ring_submit(&ring, r);
	return 0;
}

/* A listener re-sent a SYN-ACK for a request socket. */
static __always_inline int on_synack(const struct sock *listener, const struct request_sock *req)
{
	const struct sock_common *c;
	struct ks_tcp_retransmit_rec *r;
	struct ks_task owner;
	__u16 family, sport, dport;
	__u8 src, how;

	if (!listener || !req)
		return 0;
	c = &req->__req_common;
	family = BPF_CORE_READ(c, skc_family);
	if (family != KS_AF_INET && family != KS_AF_INET6)
		return 0;
	sport = BPF_CORE_READ(c, skc_num);
	dport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (!port_wanted(sport, dport))
		return 0;
	/* Listeners are lockless here: the lock holder (if any) is not the sender. */
	src = resolve_owner(listener, false, &owner, &how);
	if (!ks_owner_wanted(owner.pid, owner.comm, owner.cgroup_id))
		return 0;

	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_TCP_RETRANSMIT);
	if (!r)
		return 0;
	r->owner = owner;
	r->family = family;
	r->sport = sport;
	r->dport = dport;
	r->kind = KS_TCP_KIND_SYNACK;
	r->owner_source = src;
	r->owner_how = how;
	r->segs = 1;
	r->state = BPF_CORE_READ(c, skc_state);
	r->netns_ino = netns_ino(c);
	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	read_addrs(r, c);
	r->snd_cwnd = 0;
	r->srtt_us = 0;
	r->rto_ms = 0;
	r->retrans_out = 0;
	r->lost_out = 0;
	r->total_retrans = 0;
	r->mss = BPF_CORE_READ(req, mss);
	r->hz = CONFIG_HZ;
	ks_ring_submit(&ring, r);
	return 0;
}

/* ---- tcp:tcp_retransmit_skb ---- */

/* tp_btf: pointer arguments may be NULL (checked on 6.12), so on_retransmit() checks sk and skb. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_btf, const struct sock *sk, const struct sk_buff *skb)
{
	/* From 6.17 a third argument says whether the retransmit happened (core_fixes.bpf.h). */
	if (ks_tcp_retransmit_has_err() && (int)ctx[2] != 0)
		return 0;
	return on_retransmit(sk, skb);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_tp(void *ctx)
{
	const struct sk_buff *skb;
	const struct sock *sk;
	int err;

	sk = ks_tcp_retransmit_tp_args(ctx, &skb, &err);
	if (err)
		return 0;
	return on_retransmit(sk, skb);
}

/* ---- tcp:tcp_retransmit_synack ---- */

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(synack_btf, const struct sock *sk, const struct request_sock *req)
{
	return on_synack(sk, req);
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int synack_tp(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return on_synack(ctx->skaddr, ctx->req);
}

/* ---- sock:inet_sock_set_state: the socket-owner map ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!sk || ks_sk_protocol(sk) != KS_IPPROTO_TCP)
		return 0;
	on_state(sk, oldstate, newstate);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != KS_IPPROTO_TCP || !ctx->skaddr)
		return 0;
	on_state(ctx->skaddr, ctx->oldstate, ctx->newstate);
	return 0;
}
