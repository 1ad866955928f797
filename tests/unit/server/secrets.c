/* Tests src/server/secrets.c and src/server/kek.c: the passphrase limit
 * (ESTD_PASSPHRASE_MAX bytes, at the limit and one past, with and without
 * a newline), modes checked on the descriptor (0600 read, 0640/0604
 * refused naming the chmod), the state directory's mode, the credential
 * directory, and kek_file parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "kek.h"
#include "secrets.h"
#include "unit_main.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/estkit-secrets-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, size_t len, mode_t mode, char *path)
{
    FILE *f;

    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static est_status load_from_file(const char *text, size_t len, mode_t mode, char **out,
                                 est_error *err)
{
    estd_ca_config ca;

    estd_ca_config_defaults(&ca, "");
    write_file("pass", text, len, mode, ca.key_passphrase_file);
    return estd_passphrase_load(&ca, out, err);
}

static void test_passphrase_at_limit_and_one_past(void **state)
{
    char text[ESTD_PASSPHRASE_MAX + 3], *pass = NULL;
    est_error err;

    (void)state;
    memset(text, 'p', sizeof text);
    text[ESTD_PASSPHRASE_MAX] = '\n';
    assert_int_equal(load_from_file(text, ESTD_PASSPHRASE_MAX + 1, 0600, &pass, &err), EST_OK);
    assert_int_equal(strlen(pass), ESTD_PASSPHRASE_MAX);
    estd_passphrase_free(pass);
    text[ESTD_PASSPHRASE_MAX] = '\r';
    text[ESTD_PASSPHRASE_MAX + 1] = '\n';
    assert_int_equal(load_from_file(text, ESTD_PASSPHRASE_MAX + 2, 0600, &pass, &err), EST_OK);
    assert_int_equal(strlen(pass), ESTD_PASSPHRASE_MAX);
    estd_passphrase_free(pass);
    memset(text, 'p', sizeof text);
    assert_int_equal(load_from_file(text, ESTD_PASSPHRASE_MAX + 1, 0600, &pass, &err),
                     EST_E_CONFIG);
    assert_null(pass);
    assert_int_equal(load_from_file(text, ESTD_PASSPHRASE_MAX + 3, 0600, &pass, &err),
                     EST_E_CONFIG);
    assert_non_null(strstr(err.message, "at most 1024 bytes"));
    assert_int_equal(load_from_file("\n", 1, 0600, &pass, &err), EST_E_CONFIG);
}

static void test_passphrase_mode_refused(void **state)
{
    char *pass = NULL;
    est_error err;

    (void)state;
    assert_int_equal(load_from_file("secret\n", 7, 0640, &pass, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "mode 0640 lets group or others read it; chmod 600"));
    assert_int_equal(load_from_file("secret\n", 7, 0604, &pass, &err), EST_E_CONFIG);
    assert_int_equal(load_from_file("secret\n", 7, 0400, &pass, &err), EST_OK);
    assert_string_equal(pass, "secret");
    estd_passphrase_free(pass);
}

static void test_passphrase_credential(void **state)
{
    estd_ca_config ca;
    char path[128], *pass = NULL;
    est_error err;

    (void)state;
    estd_ca_config_defaults(&ca, "");
    assert_int_equal(estd_passphrase_load(&ca, &pass, &err), EST_OK);
    assert_null(pass); /* none configured */
    snprintf(ca.key_passphrase_credential, sizeof ca.key_passphrase_credential, "ca-pass");
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(estd_passphrase_load(&ca, &pass, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "CREDENTIALS_DIRECTORY is not set"));
    write_file("ca-pass", "from systemd", 12, 0400, path);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(estd_passphrase_load(&ca, &pass, &err), EST_OK);
    assert_string_equal(pass, "from systemd");
    estd_passphrase_free(pass);
    unsetenv("CREDENTIALS_DIRECTORY");
}

static void test_state_dir_mode(void **state)
{
    est_error err;

    (void)state;
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(estd_state_dir_check(dir, &err), EST_OK);
    assert_int_equal(chmod(dir, 0750), 0);
    assert_int_equal(estd_state_dir_check(dir, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "mode 0750"));
    assert_non_null(strstr(err.message, "chmod 700"));
    assert_int_equal(chmod(dir, 0700), 0);
}

static void test_kek_table(void **state)
{
    static const char text[] = "# id key\n\n"
                               "0a0b 000102030405060708090a0b0c0d0e0f\r\n"
                               "  ff 000102030405060708090a0b0c0d0e0f1011121314151617\n";
    estd_kek_table *table = NULL;
    uint8_t kek[ESTD_KEK_MAX], id[] = {0x0a, 0x0b}, id2[] = {0xff}, id3[] = {0x0a};
    size_t kek_len = 0;
    char path[128];
    est_error err;

    (void)state;
    write_file("kek", text, sizeof text - 1, 0600, path);
    assert_int_equal(estd_kek_table_load(path, &table, &err), EST_OK);
    assert_true(estd_kek_table_find(table, id, sizeof id, kek, &kek_len));
    assert_int_equal(kek_len, 16);
    assert_int_equal(kek[15], 0x0f);
    assert_true(estd_kek_table_find(table, id2, sizeof id2, kek, &kek_len));
    assert_int_equal(kek_len, 24);
    assert_false(estd_kek_table_find(table, id3, sizeof id3, kek, &kek_len));
    estd_kek_table_free(table);
    write_file("kek", "0a0b 00\n", 8, 0600, path);
    assert_int_equal(estd_kek_table_load(path, &table, &err), EST_E_CONFIG);
    assert_string_equal(err.message, "kek_file:1: the key is not 16, 24 or 32 bytes of hex");
    assert_null(table);
    write_file("kek", "# only\nnokey\n", 13, 0600, path);
    assert_int_equal(estd_kek_table_load(path, &table, &err), EST_E_CONFIG);
    assert_string_equal(err.message, "kek_file:2: expected ID_HEX KEY_HEX");
    write_file("kek", text, sizeof text - 1, 0644, path);
    assert_int_equal(estd_kek_table_load(path, &table, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "mode 0644"));
}

UNIT_MAIN_GROUP(setup, teardown,
    cmocka_unit_test(test_passphrase_at_limit_and_one_past),
    cmocka_unit_test(test_passphrase_mode_refused),
    cmocka_unit_test(test_passphrase_credential),
    cmocka_unit_test(test_state_dir_mode),
    cmocka_unit_test(test_kek_table))
