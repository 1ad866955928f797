/* estd: connections per client address (IPv4 address, IPv6 /64), shared by
 * the event-loop threads. */
#ifndef ESTD_ADDR_TABLE_H
#define ESTD_ADDR_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address as counted: IPv4 (or IPv4-mapped IPv6) in full, IPv6 by its
 * /64, since one host or customer typically gets a whole /64. */
typedef struct estd_addr_key {
    uint8_t bytes[9]; /* family byte, then 4 or 8 address bytes */
} estd_addr_key;

typedef struct estd_addr_table estd_addr_table;

/* per_address: connections one key may hold. buckets sized for expected. */
estd_addr_table *estd_addr_table_new(unsigned per_address, unsigned expected);
void estd_addr_table_free(estd_addr_table *t);

/* 0 and a key from a peer address; -1 for a family not counted (e.g. a
 * Unix socket: not limited). */
int estd_addr_key_from(const struct sockaddr *sa, socklen_t len, estd_addr_key *key);

/* A new per-address cap (a reload): keys holding more keep them, and get
 * no more until under it. */
void estd_addr_table_set_per_address(estd_addr_table *t, unsigned per_address);

/* Counts one more connection for key: 0, or -1 when the key already holds
 * per_address (or memory ran out); then *refused is how many times this key
 * was refused in a row (1, 2, ...), for logging only some of them. */
int estd_addr_table_acquire(estd_addr_table *t, const estd_addr_key *key, unsigned *refused);
/* Gives back one connection acquired for key. */
void estd_addr_table_release(estd_addr_table *t, const estd_addr_key *key);

#endif
