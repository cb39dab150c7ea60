/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_retransmit.h - the tcp_retransmit probe's ABI with the agent (see ksight_abi.h rules). */
#ifndef KSIGHT_TCP_RETRANSMIT_H
#define KSIGHT_TCP_RETRANSMIT_H

#include "ksight_abi.h"

#define KS_TCP_MAX_PORTS 16 /* port filter entries in .rodata */

#define KS_AF_INET 2
#define KS_AF_INET6 10

/* What retransmitted: tcp.kind. */
enum ks_tcp_kind {
	KS_TCP_KIND_RETRANSMIT = 0, /* tcp:tcp_retransmit_skb (RTO, fast retransmit, RACK) */
	KS_TCP_KIND_SYNACK = 1,	    /* tcp:tcp_retransmit_synack: a listener re-sent a SYN-ACK */
	KS_TCP_KIND_TLP = 2,	    /* a tail loss probe that re-sent a segment */
};

/* How the record's owner (struct ks_task) was found: process.source. */
enum ks_tcp_owner_source {
	KS_TCP_OWNER_UNKNOWN = 0, /* no owner known; only cgroup_id (the socket's) is set */
	KS_TCP_OWNER_SOCKET = 1,  /* from the socket-owner map */
	KS_TCP_OWNER_ON_CPU = 2,  /* the task holding the socket lock (process context) */
};

/* When the socket-owner map learnt the owner: tcp.owner_from. */
enum ks_tcp_owner_how {
	KS_TCP_HOW_NONE = 0,
	KS_TCP_HOW_CONNECT = 1,	 /* CLOSE -> SYN_SENT, in connect() */
	KS_TCP_HOW_LISTEN = 2,	 /* CLOSE -> LISTEN, in listen() */
	KS_TCP_HOW_LISTENER = 3, /* a passive open inherited its listener's owner */
};

/* Value of the "owners" map (key: the struct sock address, never exported). */
struct ks_tcp_owner {
	struct ks_task task;
	__u32 how; /* enum ks_tcp_owner_how */
	__u32 pad;
};

/* Key of the "listeners" map: a listening port in a network namespace. */
struct ks_tcp_listen_key {
	__u32 netns_ino;
	__u16 port; /* host order */
	__u16 pad;
};

struct ks_tcp_listener {
	struct ks_tcp_owner owner;
	__u64 sk; /* the listening socket, so that only its own close removes the entry */
};

/* KS_REC_TCP_RETRANSMIT: one retransmitted segment (or SYN-ACK). 128 bytes. */
struct ks_tcp_retransmit_rec {
	struct ks_rec_hdr hdr; /* 0 */
	struct ks_task owner;  /* 16: valid per owner_source */
	__u8 saddr[16];	       /* 48: local address; AF_INET: first 4 bytes */
	__u8 daddr[16];	       /* 64: remote address */
	__u16 family;	       /* 80: KS_AF_INET or KS_AF_INET6 */
	__u16 sport;	       /* 82: local port, host order */
	__u16 dport;	       /* 84: remote port, host order */
	__u8 kind;	       /* 86: enum ks_tcp_kind */
	__u8 owner_source;     /* 87: enum ks_tcp_owner_source */
	__u8 state;	       /* 88: TCP_* state of the socket (request socket for synack) */
	__u8 owner_how;	       /* 89: enum ks_tcp_owner_how */
	__u16 segs;	       /* 90: segments in this retransmit (tcp_skb_pcount) */
	__u32 netns_ino;       /* 92: the socket's network namespace inode */
	__u32 snd_cwnd;	       /* 96 */
	__u32 srtt_us;	       /* 100: smoothed RTT in us (tcp_sock srtt_us >> 3) */
	__u32 rto_ms;	       /* 104: icsk_rto converted with hz */
	__u32 retrans_out;     /* 108 */
	__u32 lost_out;	       /* 112 */
	__u32 total_retrans;   /* 116 */
	__u32 mss;	       /* 120: mss_cache (request socket: its mss) */
	__u32 hz;	       /* 124: CONFIG_HZ used for rto_ms; 0 = unknown, rto_ms invalid */
};

#endif /* KSIGHT_TCP_RETRANSMIT_H */
