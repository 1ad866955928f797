/* est csrattrs: what the CA wants in a CSR (draft-04 §4.5), one entry a
 * line: the dotted OID, OpenSSL's name for it, and an attribute's values. */
#include <string.h>
#include <openssl/objects.h>
#include "est.h"

static const char usage[] =
    "usage: est csrattrs --server URL --trust FILE [auth]\n"
    "Prints the CSR attributes the server asks for (/csrattrs), one a line:\n"
    "  OID NAME [= VALUE, ...]\n"
    "Nothing is printed when the server lists none (HTTP 204 or 404).\n";

static void print_value(const ASN1_TYPE *v)
{
    char text[128];

    if (v->type == V_ASN1_OBJECT) {
        OBJ_obj2txt(text, sizeof text, v->value.object, 0);
        fputs(text, stdout);
    } else if (v->type == V_ASN1_INTEGER) {
        printf("%ld", ASN1_INTEGER_get(v->value.integer));
    } else {
        printf("(%s)", ASN1_tag2str(v->type));
    }
}

static void print_entry(const est_csrattrs *attrs, size_t i)
{
    const ASN1_OBJECT *oid = est_csrattrs_get0_oid(attrs, i);
    const X509_ATTRIBUTE *attr = est_csrattrs_get0_attribute(attrs, i);
    char dotted[128], name[128];
    int nid = OBJ_obj2nid(oid);

    OBJ_obj2txt(dotted, sizeof dotted, oid, 1);
    /* OpenSSL's own name: 1.3.132.0.4 is sect113r1, as it truly is. */
    snprintf(name, sizeof name, "%s", nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
    printf("%s %s", dotted, name);
    for (int j = 0; attr != NULL && j < X509_ATTRIBUTE_count(attr); j++) {
        fputs(j == 0 ? " = " : ", ", stdout);
        print_value(X509_ATTRIBUTE_get0_type((X509_ATTRIBUTE *)attr, j));
    }
    putchar('\n');
}

int csrattrs_main(int argc, char **argv)
{
    static const struct option options[] = {EST_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    est_client *client = NULL;
    est_csrattrs *attrs = NULL;
    est_error err;
    est_cli cli;
    int opt;
    est_cmd_outcome r = EST_CMD_CONTINUE;

    est_cli_init(&cli, "csrattrs", usage);
    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":v", options, NULL)) != -1)
        r = est_cli_option(&cli, opt, argv);
    if (r == EST_CMD_CONTINUE)
        r = est_cli_finish_options(&cli, argc, argv, 1);
    if (r == EST_CMD_CONTINUE && (r = est_cli_client_new(&cli, &client)) == EST_EXIT_DONE) {
        if (est_client_csrattrs(client, &attrs, &err) != EST_OK) {
            r = est_cli_fail(&cli, &err);
        } else {
            for (size_t i = 0; i < est_csrattrs_count(attrs); i++)
                print_entry(attrs, i);
            r = fflush(stdout) == 0 ? EST_EXIT_DONE : est_cli_error(&cli, "standard output");
        }
    }
    est_csrattrs_free(attrs);
    est_client_free(client);
    est_cli_free(&cli);
    return r;
}
