/* The default store, part four: per-user state of authentication beyond
 * the password itself (schema version 3): the operator's unlock, which a
 * running estd reads with the user row to lift a guessing lock
 * (draft-04 §3.3.3 countermeasures; the counters live in estd's memory). */
#include <stdint.h>
#include <stdio.h>
#include "store_sqlite_internal.h"

typedef struct unlock_args {
    const char *name;
    int64_t when;
} unlock_args;

static est_status user_unlock_one(sqlstore *s, void *arg, est_error *err)
{
    const unlock_args *a = arg;
    sqlite3_stmt *st = s->st[ST_USER_UNLOCK];
    est_status rc = EST_OK;
    int src;

    if ((src = sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 2, a->when)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "user unlock", err);
    else if (sqlite3_changes(s->db) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "user unlock: no user '%.64s'", a->name);
    sqlstore_done(st);
    return rc;
}

est_status sqlstore_user_unlock(void *impl, const char *name, int64_t when, est_error *err)
{
    unlock_args a = {name, when};

    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user unlock: no name");
    return sqlstore_write(impl, "user unlock", user_unlock_one, &a, err);
}
