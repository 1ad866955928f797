/* estload: latency percentiles and server sampling through /proc.
 *
 * Every latency is kept (microseconds, 4 bytes each) and sorted once at the
 * end: exact percentiles, no histogram bucketing, and at our rates (< 10^5
 * operations a run) a few hundred KiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "estload.h"

/* Most latencies kept; later ones are still counted, not logged. */
#define LATENCY_LOG_MAX ((size_t)16 << 20)

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int latency_add(latency_log *log, uint64_t ns)
{
    uint64_t us = ns / 1000;

    if (log->count == log->cap) {
        size_t grown = log->cap ? log->cap * 2 : 4096;
        uint32_t *p;
        if (grown > LATENCY_LOG_MAX)
            return -1;
        if ((p = realloc(log->us, grown * sizeof *p)) == NULL)
            return -1;
        log->us = p;
        log->cap = grown;
    }
    log->us[log->count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile: the smallest value with at least p% at or below. */
static double percentile_ms(const latency_log *log, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)log->count + 0.999999);

    if (rank == 0)
        rank = 1;
    if (rank > log->count)
        rank = log->count;
    return log->us[rank - 1] / 1000.0;
}

void latency_summarise(latency_log *log, load_result *res)
{
    double sum = 0;

    if (log->count == 0)
        return;
    qsort(log->us, log->count, sizeof *log->us, cmp_u32);
    for (size_t i = 0; i < log->count; i++)
        sum += log->us[i];
    res->mean_ms = sum / (double)log->count / 1000.0;
    res->p50_ms = percentile_ms(log, 50);
    res->p90_ms = percentile_ms(log, 90);
    res->p99_ms = percentile_ms(log, 99);
    res->max_ms = log->us[log->count - 1] / 1000.0;
}

void latency_free(latency_log *log)
{
    free(log->us);
    memset(log, 0, sizeof *log);
}

/* /proc/PID/stat fields 14 and 15 (utime, stime) cover every thread of the
 * process; they follow the parenthesised command name, which may itself
 * hold spaces, so parsing starts after the last ')'. */
static int read_ticks(pid_t pid, unsigned long long *ticks)
{
    char path[64], buf[1024];
    unsigned long long utime, stime;
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    /* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt
     * cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    *ticks = utime + stime;
    return 0;
}

static int read_rss(pid_t pid, long *rss_kib)
{
    char path[64], line[256];
    FILE *f;
    int rc = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", rss_kib) == 1) {
            rc = 0;
            break;
        }
    fclose(f);
    return rc;
}

int proc_sample(pid_t pid, unsigned long long *ticks, long *rss_kib)
{
    if (read_ticks(pid, ticks) != 0 || read_rss(pid, rss_kib) != 0)
        return -1;
    return 0;
}
