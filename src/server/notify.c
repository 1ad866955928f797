/* Service-manager notifications (sd_notify(3)): estd.service is
 * Type=notify, so systemd starts dependants only once READY=1 says the
 * listener accepts; RELOADING/STOPPING let `systemctl status` tell what
 * estd is doing. Without NOTIFY_SOCKET (not under systemd) each is a no-op. */
#include <stdio.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include "notify.h"

void estd_notify_ready(const char *listen)
{
    /* unset_environment 0: threads started later read no environment. */
    sd_notifyf(0, "READY=1\nSTATUS=serving EST on %s", listen);
}

void estd_notify_reloading(void)
{
    struct timespec now;

    /* MONOTONIC_USEC lets a manager that waits for reload completion
     * (Type=notify-reload) match this RELOADING=1 to its request. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
               (unsigned long long)now.tv_sec * 1000000ull +
                   (unsigned long long)now.tv_nsec / 1000ull);
}

void estd_notify_reloaded(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void estd_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing requests in flight");
}
