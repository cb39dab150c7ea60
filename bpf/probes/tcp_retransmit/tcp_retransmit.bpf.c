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

/* Ring records: only used through pointers (see KS_ABI_EXPORT). */
KS_ABI_EXPORT(ks_tcp_retransmit_rec);

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

/*
 * Field reads. tp_btf programs get BTF-typed pointers: a plain load, which
 * the verifier checks against BTF and turns into a fault-safe load (no
 * helper call). Classic tracepoints only have the pointer as a number: read
 * with bpf_probe_read_kernel(). Every reader takes `btf`, a constant once
 * inlined, so each program keeps one of the two forms. CO-RE relocates both.
 */
#define KS_RD(btf, T, ptr, path)                                                                   \
	((btf) ? (T)((ptr)->path) : ({                                                             \
		T ks_v__ = 0;                                                                      \
		bpf_core_read(&ks_v__, sizeof(ks_v__), &(ptr)->path);                              \
		ks_v__;                                                                            \
	}))

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

static __always_inline __u32 netns_ino(bool btf, const struct sock_common *c)
{
	struct net *net = KS_RD(btf, struct net *, c, skc_net.net);

	if (!net)
		return 0;
	return KS_RD(btf, __u32, net, ns.inum);
}

static __always_inline __u16 sk_protocol(bool btf, const struct sock *sk)
{
	/* A bitfield before 5.6 (core_fixes.bpf.h); the BTF path reads it in place. */
	if (btf)
		return (__u16)BPF_CORE_READ_BITFIELD(sk, sk_protocol);
	return ks_sk_protocol(sk);
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

static __always_inline void listen_key(bool btf, const struct sock *sk,
				       struct ks_tcp_listen_key *lk)
{
	lk->netns_ino = netns_ino(btf, &sk->__sk_common);
	lk->port = KS_RD(btf, __u16, sk, __sk_common.skc_num);
	lk->pad = 0;
}

/* A passive open: the new socket inherits its listener's owner. */
static __always_inline void inherit_listener(bool btf, const struct sock *sk)
{
	struct ks_tcp_listen_key lk;
	struct ks_tcp_listener *l;
	struct ks_tcp_owner o;
	__u64 key = (__u64)sk;

	if (bpf_map_lookup_elem(&owners, &key))
		return;
	listen_key(btf, sk, &lk);
	l = bpf_map_lookup_elem(&listeners, &lk);
	if (!l)
		return;
	o = l->owner;
	o.how = KS_TCP_HOW_LISTENER;
	remember_owner(key, &o);
}

static __always_inline void on_state(bool btf, const struct sock *sk, int oldstate, int newstate)
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
	case KS_TCP_LISTEN: { /* listen(): the caller owns the listener and, until accept, its
				 children */
		struct ks_tcp_listen_key lk;
		struct ks_tcp_listener l = {};

		owner_from_current(&o, KS_TCP_HOW_LISTEN);
		remember_owner(key, &o);
		listen_key(btf, sk, &lk);
		l.owner = o;
		l.sk = key;
		if (bpf_map_update_elem(&listeners, &lk, &l, BPF_ANY))
			ks_count(KS_CNT_MAP_FULL);
		return;
	}
	case KS_TCP_SYN_RECV: /* a child cloned from its listener (softirq) */
		if (oldstate == KS_TCP_LISTEN)
			inherit_listener(btf, sk);
		return;
	case KS_TCP_ESTABLISHED: /* passive open completed (softirq) */
		if (oldstate == KS_TCP_SYN_RECV)
			inherit_listener(btf, sk);
		return;
	case KS_TCP_CLOSE:
		bpf_map_delete_elem(&owners, &key);
		if (oldstate == KS_TCP_LISTEN) {
			struct ks_tcp_listen_key lk;
			struct ks_tcp_listener *l;

			listen_key(btf, sk, &lk);
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
static __always_inline __u8 resolve_owner(bool btf, const struct sock *sk, bool allow_on_cpu,
					  struct ks_task *t, __u8 *how)
{
	__u64 key = (__u64)sk;
	struct ks_tcp_owner *o = bpf_map_lookup_elem(&owners, &key);

	if (o) {
		*t = o->task;
		*how = (__u8)o->how;
		return KS_TCP_OWNER_SOCKET;
	}
	*how = KS_TCP_HOW_NONE;
	if (allow_on_cpu && KS_RD(btf, int, sk, sk_lock.owned)) {
		ks_fill_current_task(t);
		return KS_TCP_OWNER_ON_CPU;
	}
	__builtin_memset(t, 0, sizeof(*t));
	t->cgroup_id = ks_sock_cgroup_id(sk);
	return KS_TCP_OWNER_UNKNOWN;
}

static __always_inline void read_addrs(bool btf, struct ks_tcp_retransmit_rec *r,
				       const struct sock_common *c)
{
	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	if (r->family == KS_AF_INET) {
		*(__u32 *)r->saddr = KS_RD(btf, __u32, c, skc_rcv_saddr);
		*(__u32 *)r->daddr = KS_RD(btf, __u32, c, skc_daddr);
	} else if (btf) {
		__builtin_memcpy(r->saddr, &c->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r->daddr, &c->skc_v6_daddr, 16);
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
static __always_inline bool in_loss_probe(bool btf, const struct inet_connection_sock *icsk)
{
	__u8 ca_state;

	if (KS_RD(btf, __u8, icsk, icsk_pending) != KS_ICSK_TIME_LOSS_PROBE)
		return false;
	if (btf)
		ca_state = BPF_CORE_READ_BITFIELD(icsk, icsk_ca_state);
	else
		ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	return ca_state < TCP_CA_Recovery;
}

/* A data socket retransmitted: kind retransmit, or tlp. */
static __always_inline int on_retransmit(bool btf, const struct sock *sk, const struct sk_buff *skb)
{
	const struct sock_common *c = &sk->__sk_common;
	struct ks_tcp_retransmit_rec *r;
	const struct tcp_sock *tp;
	struct ks_task owner;
	__u16 family, sport, dport, segs = 1;
	__u8 src, how, kind = KS_TCP_KIND_RETRANSMIT;

	if (!sk)
		return 0;
	family = KS_RD(btf, __u16, c, skc_family);
	if (family != KS_AF_INET && family != KS_AF_INET6)
		return 0;
	sport = KS_RD(btf, __u16, c, skc_num);
	dport = bpf_ntohs(KS_RD(btf, __u16, c, skc_dport));
	if (!port_wanted(sport, dport))
		return 0;
	/* The BTF path needs the verifier to know it is a full tcp_sock. */
	tp = btf ? bpf_skc_to_tcp_sock((void *)sk) : (const void *)sk;
	if (!tp)
		return 0;
	src = resolve_owner(btf, sk, true, &owner, &how);
	if (!ks_owner_wanted(owner.pid, owner.comm, owner.cgroup_id))
		return 0;

	if (in_loss_probe(btf, &tp->inet_conn))
		kind = KS_TCP_KIND_TLP;
	if (skb) {
		const struct tcp_skb_cb *cb = (const void *)&skb->cb[0];

		segs = KS_RD(btf, __u16, cb, tcp_gso_segs);
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
	r->state = KS_RD(btf, __u8, c, skc_state);
	r->netns_ino = netns_ino(btf, c);
	read_addrs(btf, r, c);
	r->snd_cwnd = KS_RD(btf, __u32, tp, snd_cwnd);
	r->srtt_us = KS_RD(btf, __u32, tp, srtt_us) >> 3;
	r->rto_ms = jiffies_to_ms(KS_RD(btf, __u32, tp, inet_conn.icsk_rto));
	r->retrans_out = KS_RD(btf, __u32, tp, retrans_out);
	r->lost_out = KS_RD(btf, __u32, tp, lost_out);
	r->total_retrans = KS_RD(btf, __u32, tp, total_retrans);
	r->mss = KS_RD(btf, __u32, tp, mss_cache);
	r->hz = CONFIG_HZ;
	ks_ring_submit(&ring, r);
	return 0;
}

/* A listener re-sent a SYN-ACK for a request socket. */
static __always_inline int on_synack(bool btf, const struct sock *listener,
				     const struct request_sock *req)
{
	const struct sock_common *c;
	struct ks_tcp_retransmit_rec *r;
	struct ks_task owner;
	__u16 family, sport, dport;
	__u8 src, how;

	if (!listener || !req)
		return 0;
	c = &req->__req_common;
	family = KS_RD(btf, __u16, c, skc_family);
	if (family != KS_AF_INET && family != KS_AF_INET6)
		return 0;
	sport = KS_RD(btf, __u16, c, skc_num);
	dport = bpf_ntohs(KS_RD(btf, __u16, c, skc_dport));
	if (!port_wanted(sport, dport))
		return 0;
	/* Listeners are lockless here: the lock holder (if any) is not the sender. */
	src = resolve_owner(btf, listener, false, &owner, &how);
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
	r->state = KS_RD(btf, __u8, c, skc_state);
	r->netns_ino = netns_ino(btf, c);
	read_addrs(btf, r, c);
	r->snd_cwnd = 0;
	r->srtt_us = 0;
	r->rto_ms = 0;
	r->retrans_out = 0;
	r->lost_out = 0;
	r->total_retrans = 0;
	r->mss = KS_RD(btf, __u16, req, mss);
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
	return on_retransmit(true, sk, skb);
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
	return on_retransmit(false, sk, skb);
}

/* ---- tcp:tcp_retransmit_synack ---- */

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(synack_btf, const struct sock *sk, const struct request_sock *req)
{
	return on_synack(true, sk, req);
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int synack_tp(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	const struct request_sock *req = NULL;
	const struct sock *sk = NULL;

	bpf_core_read(&sk, sizeof(sk), &ctx->skaddr);
	bpf_core_read(&req, sizeof(req), &ctx->req);
	return on_synack(false, sk, req);
}

/* ---- sock:inet_sock_set_state: the socket-owner map ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	/* Cheap tests first: this runs for every state change of every socket. */
	if (newstate != KS_TCP_SYN_SENT && newstate != KS_TCP_LISTEN &&
	    newstate != KS_TCP_SYN_RECV && newstate != KS_TCP_ESTABLISHED &&
	    newstate != KS_TCP_CLOSE)
		return 0;
	if (!sk || sk_protocol(true, sk) != KS_IPPROTO_TCP)
		return 0;
	on_state(true, sk, oldstate, newstate);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct sock *sk = NULL;
	int oldstate = 0, newstate = 0;
	__u16 protocol = 0;

	bpf_core_read(&protocol, sizeof(protocol), &ctx->protocol);
	if (protocol != KS_IPPROTO_TCP)
		return 0;
	bpf_core_read(&sk, sizeof(sk), &ctx->skaddr);
	bpf_core_read(&oldstate, sizeof(oldstate), &ctx->oldstate);
	bpf_core_read(&newstate, sizeof(newstate), &ctx->newstate);
	if (!sk)
		return 0;
	on_state(false, sk, oldstate, newstate);
	return 0;
}
