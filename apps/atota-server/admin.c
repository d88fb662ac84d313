/*
 * `atota-server admin --data DIR <command>`: the store and blob store of a data directory,
 * worked on directly (docs/atota-server.md). A running server may use the same directory at the
 * same time: SQLite in WAL mode takes one writer at a time and readers alongside it, and blobs
 * are written before the rows that name them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/atota-server/app.h"
#include "core/util/hash.h"
#include "server/auth.h"
#include "server/validate.h"

#define EXIT_USAGE 2

static const char usage[] =
    "usage: atota-server admin --data DIR <command>\n"
    "\n"
    "  account add NAME [--admin]       a new account; its password is read from standard\n"
    "                                   input (one line), or made and printed when there is none\n"
    "  product add NAME                 a new product\n"
    "  device add PRODUCT NAME          a new device; prints its key (the ESP-AT OTA token)\n"
    "  version add PRODUCT VERSION [--corename N]\n"
    "                                   a new ROM version\n"
    "  file put PRODUCT VERSION FILE [--name NAME]\n"
    "                                   uploads FILE (checked as the API does) as NAME (default:\n"
    "                                   FILE's own name when it is ota.bin or <label>.bin, else\n"
    "                                   ota.bin)\n"
    "  current PRODUCT VERSION          makes VERSION the product's recommended version\n"
    "  list                             products, devices, versions and files\n"
    "  check                            every file's blob exists and has its SHA-256; exit 1\n"
    "                                   when one does not\n"
    "\n"
    "PRODUCT is a product's name (or its id).\n";

typedef struct {
    atota_store_t *store;
    atota_blobs_t *blobs;
    const char *data_dir;
} admin_t;

static int bad_usage(const char *what)
{
    fprintf(stderr, "atota-server: %s\n%s", what, usage);
    return EXIT_USAGE;
}

/* A store failure as a line: what the command was about. */
static int store_fail(atota_err_t err, const char *what, const char *name, const atota_diag_t *d)
{
    if (err == ATOTA_ERR_STATE)
        return server_app_error("a %s named '%s' already exists", what, name);
    if (err == ATOTA_ERR_NOT_FOUND)
        return server_app_error("no %s '%s'", what, name);
    return server_app_error("%s '%s': %s", what, name,
                            d ? atota_diag_text(d, err) : atota_strerror(err));
}

/* --- finding things by name --- */

typedef struct {
    const char *name;
    int64_t id;
    atota_store_product_t *out;
    bool found;
} product_query_t;

static int match_product(void *ctx, const void *row)
{
    product_query_t *q = ctx;
    const atota_store_product_t *p = row;
    if (strcmp(p->name, q->name) == 0) {
        *q->out = *p;
        q->found = true;
        return 1;
    }
    return 0;
}

static bool find_product(admin_t *a, const char *name, atota_store_product_t *out)
{
    product_query_t q = {name, 0, out, false};
    a->store->ops->product_list(a->store, match_product, &q);
    if (q.found)
        return true;
    char *end;
    long long id = strtoll(name, &end, 10);
    return *name && !*end && id > 0 && a->store->ops->product_get(a->store, id, out) == ATOTA_OK;
}

/* --- commands --- */

static int cmd_account_add(admin_t *a, int argc, char **argv)
{
    bool is_admin = false;
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--admin") == 0)
            is_admin = true;
        else if (!name)
            name = argv[i];
        else
            return bad_usage("account add takes one NAME");
    }
    if (!name)
        return bad_usage("account add needs a NAME");
    if (!atota_validate_object_name(name))
        return server_app_error(
            "an account name must have 1 to 64 bytes and no control characters");
    char password[ATOTA_AUTH_PASSWORD_MAX + 2] = "";
    bool generated = false;
    if (!isatty(STDIN_FILENO) && fgets(password, sizeof password, stdin))
        password[strcspn(password, "\r\n")] = '\0';
    if (!password[0]) {
        if (atota_auth_random_hex(password, 12))
            return server_app_error("no randomness for a password");
        generated = true;
    }
    if (strlen(password) < ATOTA_AUTH_PASSWORD_MIN || strlen(password) > ATOTA_AUTH_PASSWORD_MAX)
        return server_app_error("a password must have %u to %u bytes", ATOTA_AUTH_PASSWORD_MIN,
                                ATOTA_AUTH_PASSWORD_MAX);
    atota_store_account_t acc;
    memset(&acc, 0, sizeof acc);
    snprintf(acc.name, sizeof acc.name, "%s", name);
    acc.is_admin = is_admin;
    acc.created_at = (int64_t)time(NULL);
    if (atota_auth_hash_password(password, acc.password_hash))
        return server_app_error("cannot hash the password");
    atota_diag_t d = {{0}};
    atota_err_t err = a->store->ops->account_add(a->store, &acc, &d);
    if (err)
        return store_fail(err, "account", name, &d);
    if (generated)
        printf("account %s (id %" PRId64 ")%s, password %s\n", acc.name, acc.id,
               is_admin ? ", admin" : "", password);
    else
        printf("account %s (id %" PRId64 ")%s\n", acc.name, acc.id, is_admin ? ", admin" : "");
    memset(password, 0, sizeof password);
    return 0;
}

static int cmd_product_add(admin_t *a, int argc, char **argv)
{
    if (argc != 1)
        return bad_usage("product add takes one NAME");
    if (!atota_validate_object_name(argv[0]))
        return server_app_error("a product name must have 1 to 64 bytes and no control characters");
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", argv[0]);
    p.created_at = (int64_t)time(NULL);
    atota_diag_t d = {{0}};
    atota_err_t err = a->store->ops->product_add(a->store, &p, &d);
    if (err)
        return store_fail(err, "product", argv[0], &d);
    printf("product %s (id %" PRId64 ")\n", p.name, p.id);
    return 0;
}

static int cmd_device_add(admin_t *a, int argc, char **argv)
{
    if (argc != 2)
        return bad_usage("device add takes PRODUCT NAME");
    atota_store_product_t p;
    if (!find_product(a, argv[0], &p))
        return server_app_error("no product '%s'", argv[0]);
    if (!atota_validate_object_name(argv[1]))
        return server_app_error("a device name must have 1 to 64 bytes and no control characters");
    atota_store_device_t dev;
    memset(&dev, 0, sizeof dev);
    dev.product_id = p.id;
    snprintf(dev.name, sizeof dev.name, "%s", argv[1]);
    dev.created_at = (int64_t)time(NULL);
    if (atota_auth_device_key(dev.key))
        return server_app_error("no randomness for a device key");
    atota_diag_t d = {{0}};
    atota_err_t err = a->store->ops->device_add(a->store, &dev, &d);
    if (err)
        return store_fail(err, "device", argv[1], &d);
    /* the key alone on its line: scripts take it with $(...) */
    printf("%s\n", dev.key);
    return 0;
}

static int cmd_version_add(admin_t *a, int argc, char **argv)
{
    const char *corename = "";
    const char *pos[2];
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--corename") == 0 && i + 1 < argc)
            corename = argv[++i];
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return bad_usage("version add takes PRODUCT VERSION [--corename N]");
    }
    if (npos != 2)
        return bad_usage("version add takes PRODUCT VERSION [--corename N]");
    atota_store_product_t p;
    if (!find_product(a, pos[0], &p))
        return server_app_error("no product '%s'", pos[0]);
    if (!atota_validate_version(pos[1]))
        return server_app_error("a version must have 1 to 64 characters among A-Z a-z 0-9 . _ - ~");
    if (*corename && !atota_validate_object_name(corename))
        return server_app_error("corename must have at most 64 bytes and no control characters");
    atota_store_version_t v;
    memset(&v, 0, sizeof v);
    v.product_id = p.id;
    snprintf(v.version, sizeof v.version, "%s", pos[1]);
    snprintf(v.corename, sizeof v.corename, "%s", corename);
    v.created_at = (int64_t)time(NULL);
    atota_diag_t d = {{0}};
    atota_err_t err = a->store->ops->version_add(a->store, &v, &d);
    if (err)
        return store_fail(err, "version", pos[1], &d);
    printf("version %s of %s (id %" PRId64 ")\n", v.version, p.name, v.id);
    return 0;
}

static bool find_version(admin_t *a, const char *product, const char *version,
                         atota_store_product_t *p, atota_store_version_t *v, int *rc)
{
    if (!find_product(a, product, p)) {
        *rc = server_app_error("no product '%s'", product);
        return false;
    }
    if (a->store->ops->version_find(a->store, p->id, version, v) != ATOTA_OK) {
        *rc = server_app_error("product %s has no version '%s'", p->name, version);
        return false;
    }
    return true;
}

static int cmd_file_put(admin_t *a, int argc, char **argv)
{
    const char *name = NULL;
    const char *pos[3];
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (npos < 3)
            pos[npos++] = argv[i];
        else
            return bad_usage("file put takes PRODUCT VERSION FILE [--name NAME]");
    }
    if (npos != 3)
        return bad_usage("file put takes PRODUCT VERSION FILE [--name NAME]");
    if (!name) {
        const char *base = strrchr(pos[2], '/');
        base = base ? base + 1 : pos[2];
        name = atota_validate_name(base) ? base : "ota.bin";
    }
    atota_store_product_t p;
    atota_store_version_t v;
    int rc = 0;
    if (!find_version(a, pos[0], pos[1], &p, &v, &rc))
        return rc;
    size_t len = 0;
    char *data = server_app_read_file(pos[2], &len);
    if (!data)
        return server_app_error("cannot read %s: %s", pos[2], strerror(errno));
    atota_validate_result_t check;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_validate_file(name, data, len, &check, &d);
    if (err) {
        free(data);
        return server_app_error("%s: %s", pos[2], atota_diag_text(&d, err));
    }
    atota_store_file_t f;
    memset(&f, 0, sizeof f);
    f.version_id = v.id;
    snprintf(f.name, sizeof f.name, "%s", name);
    f.size = len;
    f.created_at = (int64_t)time(NULL);
    if (check.is_app) {
        snprintf(f.chip, sizeof f.chip, "%s", check.chip);
        snprintf(f.app_version, sizeof f.app_version, "%s", check.app_version);
        snprintf(f.project, sizeof f.project, "%s", check.project);
    }
    /* blobs.h: the blob is on disk before the row that names it */
    err = atota_blobs_put(a->blobs, data, len, f.sha256, &d);
    free(data);
    if (!err)
        err = a->store->ops->file_put(a->store, &f, &d);
    if (err)
        return server_app_error("cannot store %s: %s", name, atota_diag_text(&d, err));
    if (check.warning[0])
        fprintf(stderr, "atota-server: warning: %s\n", check.warning);
    printf("%s of %s %s: %" PRIu64 " bytes, sha256 %s, /fw/%s/%s", f.name, p.name, v.version,
           f.size, f.sha256, f.sha256, f.name);
    if (check.is_app)
        printf(" (%s %s, %s)", f.chip, f.app_version, f.project);
    printf("\n");
    return 0;
}

static int cmd_current(admin_t *a, int argc, char **argv)
{
    if (argc != 2)
        return bad_usage("current takes PRODUCT VERSION");
    atota_store_product_t p;
    atota_store_version_t v;
    int rc = 0;
    if (!find_version(a, argv[0], argv[1], &p, &v, &rc))
        return rc;
    atota_err_t err = a->store->ops->product_set_recommended(a->store, p.id, v.id);
    if (err)
        return store_fail(err, "version", argv[1], NULL);
    printf("product %s: version %s is current\n", p.name, v.version);
    return 0;
}

/* --- list --- */

static int cmd_list(admin_t *a, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return bad_usage("list takes no argument");
    atota_store_t *s = a->store;
    atota_store_rows_t accounts = ATOTA_STORE_ROWS(atota_store_account_t);
    s->ops->account_list(s, atota_store_collect, &accounts);
    for (size_t i = 0; i < accounts.count; i++) {
        const atota_store_account_t *acc = ATOTA_STORE_ROW(accounts, atota_store_account_t, i);
        printf("account %s (id %" PRId64 ")%s\n", acc->name, acc->id,
               acc->is_admin ? " admin" : "");
    }
    free(accounts.rows);
    atota_store_rows_t products = ATOTA_STORE_ROWS(atota_store_product_t);
    s->ops->product_list(s, atota_store_collect, &products);
    for (size_t i = 0; i < products.count; i++) {
        const atota_store_product_t *p = ATOTA_STORE_ROW(products, atota_store_product_t, i);
        printf("product %s (id %" PRId64 ")\n", p->name, p->id);
        atota_store_rows_t devices = ATOTA_STORE_ROWS(atota_store_device_t);
        s->ops->device_list(s, p->id, atota_store_collect, &devices);
        for (size_t j = 0; j < devices.count; j++) {
            const atota_store_device_t *dev = ATOTA_STORE_ROW(devices, atota_store_device_t, j);
            printf("  device %s (id %" PRId64 ") key %s", dev->name, dev->id, dev->key);
            if (dev->last_query_at)
                printf(", last query %" PRId64 " -> %s", dev->last_query_at,
                       dev->last_query_version);
            if (dev->last_download_at)
                printf(", last download %" PRId64 " %s %s", dev->last_download_at,
                       dev->last_download_version, dev->last_download_file);
            printf("\n");
        }
        free(devices.rows);
        atota_store_rows_t versions = ATOTA_STORE_ROWS(atota_store_version_t);
        s->ops->version_list(s, p->id, atota_store_collect, &versions);
        for (size_t j = 0; j < versions.count; j++) {
            const atota_store_version_t *v = ATOTA_STORE_ROW(versions, atota_store_version_t, j);
            printf("  version %s (id %" PRId64 ")%s%s%s\n", v->version, v->id,
                   v->corename[0] ? " corename " : "", v->corename,
                   v->id == p->recommended_version_id ? " current" : "");
            atota_store_rows_t files = ATOTA_STORE_ROWS(atota_store_file_t);
            s->ops->file_list(s, v->id, atota_store_collect, &files);
            for (size_t k = 0; k < files.count; k++) {
                const atota_store_file_t *f = ATOTA_STORE_ROW(files, atota_store_file_t, k);
                printf("    file %s %" PRIu64 " bytes sha256 %s", f->name, f->size, f->sha256);
                if (f->chip[0])
                    printf(" (%s %s, %s)", f->chip, f->app_version, f->project);
                printf("\n");
            }
            free(files.rows);
        }
        free(versions.rows);
    }
    free(products.rows);
    return 0;
}

/* --- check --- */

typedef struct {
    admin_t *a;
    unsigned files, bad;
} check_t;

static int check_file(void *ctx, const atota_store_product_t *p, const atota_store_version_t *v,
                      const atota_store_file_t *f)
{
    check_t *c = ctx;
    c->files++;
    int fd = -1;
    uint64_t size = 0;
    int64_t mtime = 0;
    atota_err_t err = atota_blobs_open_read(c->a->blobs, f->sha256, &fd, &size, &mtime);
    if (err) {
        c->bad++;
        printf("BAD %s %s %s: blob %s: %s\n", p->name, v->version, f->name, f->sha256,
               err == ATOTA_ERR_NOT_FOUND ? "missing" : atota_strerror(err));
        return 0;
    }
    atota_sha256_t h;
    atota_sha256_init(&h);
    uint8_t buf[65536];
    uint64_t total = 0;
    bool io_error = false;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            io_error = true;
        if (n <= 0)
            break;
        atota_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    uint8_t digest[ATOTA_SHA256_LEN];
    atota_sha256_finish(&h, digest);
    char hex[65];
    atota_hex(digest, sizeof digest, hex);
    if (io_error || total != f->size || strcmp(hex, f->sha256) != 0) {
        c->bad++;
        printf("BAD %s %s %s: blob %s holds %" PRIu64 " bytes with sha256 %s (expected %" PRIu64
               " bytes)%s\n",
               p->name, v->version, f->name, f->sha256, total, hex, f->size,
               io_error ? ", read error" : "");
    }
    return 0;
}

static int cmd_check(admin_t *a, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return bad_usage("check takes no argument");
    check_t c = {a, 0, 0};
    atota_err_t err = server_app_each_file(a->store, check_file, &c);
    if (err)
        return server_app_error("cannot read the store: %s", atota_strerror(err));
    if (c.bad) {
        printf("%u of %u file(s) bad\n", c.bad, c.files);
        fprintf(stderr, "atota-server: check: %u of %u file(s) have no intact blob\n", c.bad,
                c.files);
        return 1;
    }
    printf("ok: %u file(s), every blob present and intact\n", c.files);
    return 0;
}

int server_admin_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL;
    int c;
    /* "+": stop at the command, whose own options (--admin, --name) are parsed by it */
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!data_dir)
        return bad_usage("admin needs --data DIR");
    if (optind >= argc)
        return bad_usage("admin needs a command");
    const char *cmd = argv[optind];
    const char *sub = optind + 1 < argc ? argv[optind + 1] : "";
    static const struct {
        const char *cmd, *sub;
        int (*fn)(admin_t *a, int argc, char **argv);
    } commands[] = {
        {"account", "add", cmd_account_add},
        {"product", "add", cmd_product_add},
        {"device", "add", cmd_device_add},
        {"version", "add", cmd_version_add},
        {"file", "put", cmd_file_put},
        {"current", NULL, cmd_current},
        {"list", NULL, cmd_list},
        {"check", NULL, cmd_check},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].cmd, cmd) != 0)
            continue;
        if (commands[i].sub && strcmp(commands[i].sub, sub) != 0)
            continue;
        int first = optind + (commands[i].sub ? 2 : 1);
        admin_t a = {NULL, NULL, data_dir};
        atota_diag_t d = {{0}};
        atota_err_t err = server_app_open(data_dir, &a.store, &a.blobs, &d);
        if (err)
            return server_app_error("%s: %s", data_dir, atota_diag_text(&d, err));
        int rc = commands[i].fn(&a, argc - first, argv + first);
        atota_blobs_close(a.blobs);
        a.store->ops->close(a.store);
        return rc;
    }
    fprintf(stderr, "atota-server: unknown admin command '%s%s%s'\n%s", cmd, *sub ? " " : "", sub,
            usage);
    return EXIT_USAGE;
}
