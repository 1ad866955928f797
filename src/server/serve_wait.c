/* `estd serve`'s main thread: signals and periodic tasks. The loops and
 * workers never see a signal (all are blocked there); this thread takes
 * them synchronously with sigtimedwait, so a reload runs in plain code,
 * not in a signal handler. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include "notify.h"
#include "serve_wait.h"

/* How often the periodic tasks run: freeing replaced instances. */
#define SERVE_TICK_SECONDS 1

static void tick(estd_serve_state *st)
{
    estd_reload_collect(st->reloader, st->srv);
}

int estd_serve_wait(estd_serve_state *st, const sigset_t *signals)
{
    const struct timespec timeout = {SERVE_TICK_SECONDS, 0};

    for (;;) {
        int sig = sigtimedwait(signals, NULL, &timeout);

        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGHUP) {
            fprintf(stderr, "estd: SIGHUP received, reloading\n");
            estd_notify_reloading();
            estd_notify_reloaded(estd_reload(st->reloader, st->srv, st->tls) == EST_OK
                                     ? "serving EST; configuration reloaded"
                                     : "serving EST; reload failed, previous configuration kept");
        } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            perror("estd: sigtimedwait");
        }
        tick(st);
    }
}
