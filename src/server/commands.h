/* estd subcommands: each `estd NAME ...` is one function in its own file,
 * called with argv[0] = NAME. Return: 0 done, 1 error, 2 nothing to do. */
#ifndef ESTD_COMMANDS_H
#define ESTD_COMMANDS_H

int estd_init_main(int argc, char **argv);    /* cmd_init.c */
int estd_user_main(int argc, char **argv);    /* cmd_user.c: add|del|list */
int estd_certs_main(int argc, char **argv);   /* cmd_certs.c: certs list */
int estd_cert_main(int argc, char **argv);    /* cmd_certs.c: cert show */
int estd_revoke_main(int argc, char **argv);  /* cmd_revoke.c */
int estd_crl_main(int argc, char **argv);     /* cmd_revoke.c */
int estd_ca_main(int argc, char **argv);      /* cmd_ca.c: ca rollover */
int estd_pending_main(int argc, char **argv); /* cmd_pending.c: list|approve|reject */
int estd_otp_main(int argc, char **argv);     /* cmd_otp.c: add|list */
int estd_store_main(int argc, char **argv);   /* cmd_store.c: store copy */
int estd_serve_main(int argc, char **argv);   /* serve.c */
int estd_tls_main(int argc, char **argv);     /* cmd_tls.c: tls renew */
int estd_version_main(int argc, char **argv); /* cmd_info.c */
int estd_example_config_main(int argc, char **argv); /* cmd_info.c */

/* One-line error to stderr: "estd: <command>: <message>". */
void estd_fail(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
