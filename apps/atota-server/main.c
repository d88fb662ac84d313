/*
 * atota-server: a self-hosted replacement for iot.espressif.cn (docs/atota-server.md). It opens
 * the data directory (store and blob store, removing blobs no file names), makes a self-signed
 * certificate and the first account on the first start, and serves, in this order of routes:
 * the device API ESP-AT firmware calls, the firmware files, the management API, the console.
 * It runs until SIGTERM or SIGINT. `atota-server admin ...` works on the data directory
 * directly (admin.c).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps/atota-server/app.h"
#include "server/auth.h"
#include "server/server.h"

#define EXIT_USAGE 2
#define MAX_ROUTES 64
#define PEM_CAP    16384

static const char usage[] =
    "usage: atota-server [--data DIR] [--http ADDR:PORT|none] [--https ADDR:PORT|none]\n"
    "                    [--cert PEM --key PEM] [--public-url URL]\n"
    "       atota-server admin --data DIR <command> ...   (atota-server admin --help)\n"
    "\n"
    "  --data DIR        the data directory (default ./atota-data): database, firmware files,\n"
    "                    TLS certificate; created when missing\n"
    "  --http ADDR:PORT  plain HTTP listener (default 127.0.0.1:8070; port 0: any free port)\n"
    "  --https ADDR:PORT HTTPS listener (default 127.0.0.1:8443)\n"
    "  --cert PEM        HTTPS certificate (default: <data>/tls/cert.pem, self-signed, made on\n"
    "  --key PEM         the first start) and its private key\n"
    "  --public-url URL  the base of the URLs the server hands out (default: the HTTP listener)\n";

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(stderr, "%s atota-server: %s\n", stamp, line);
}

/* "none" (or "") switches a listener off. */
static const char *listener(const char *arg)
{
    return (!arg || !*arg || strcmp(arg, "none") == 0) ? NULL : arg;
}

/* The host part of "ADDR:PORT" / "[v6]:PORT", into out. */
static void addr_host(const char *addr, char *out, size_t cap)
{
    const char *colon = strrchr(addr, ':');
    size_t len = colon ? (size_t)(colon - addr) : strlen(addr);
    if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
        addr++;
        len -= 2;
    }
    snprintf(out, cap, "%.*s", (int)len, addr);
}

/* A URL base for a listener: "http://127.0.0.1:8070" ("[::1]" for IPv6). A wildcard address
 * names this machine's loopback: --public-url says what clients elsewhere must use. */
static void listener_url(const char *scheme, const char *addr, uint16_t port, char *out, size_t cap)
{
    char host[256];
    addr_host(addr, host, sizeof host);
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        snprintf(host, sizeof host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "::1");
    /* the caller's buffer holds any host this program accepts; a longer one is cut, and
     * snprintf's result says so (checked to satisfy -Wformat-truncation at -O2) */
    int n = strchr(host, ':') ? snprintf(out, cap, "%s://[%s]:%u", scheme, host, (unsigned)port)
                              : snprintf(out, cap, "%s://%s:%u", scheme, host, (unsigned)port);
    if (n < 0 || (size_t)n >= cap)
        out[cap ? cap - 1 : 0] = '\0';
}

/* The first start: the account admin with a random password, told once. */
static int count_row(void *ctx, const void *row)
{
    (void)row;
    (*(unsigned *)ctx)++;
    return 0;
}

static int first_account(atota_server_t *srv)
{
    unsigned accounts = 0;
    if (srv->store->ops->account_list(srv->store, count_row, &accounts) != ATOTA_OK)
        return server_app_error("cannot read the accounts");
    if (accounts)
        return 0;
    char password[25];
    atota_store_account_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "admin");
    a.is_admin = true;
    a.created_at = (int64_t)time(NULL);
    if (atota_auth_random_hex(password, 12) || atota_auth_hash_password(password, a.password_hash))
        return server_app_error("cannot make the first password");
    char path[4200], text[64];
    snprintf(path, sizeof path, "%s/initial-admin-password", srv->data_dir);
    snprintf(text, sizeof text, "%s\n", password);
    atota_diag_t d = {{0}};
    atota_err_t err = server_app_write_file(path, text, 0600, &d);
    if (!err)
        err = srv->store->ops->account_add(srv->store, &a, &d);
    if (err)
        return server_app_error("cannot create the account admin: %s", atota_diag_text(&d, err));
    printf("atota-server: first start: account admin, password %s\n"
           "atota-server: (also in %s until it is changed)\n",
           password, path);
    memset(password, 0, sizeof password);
    return 0;
}

/* HTTPS: the given certificate, or <data>/tls/cert.pem, made self-signed on the first start. */
static int load_tls(const char *data_dir, const char *https_addr, const char *cert_file,
                    const char *key_file, char **cert_pem, char **key_pem)
{
    char cert_path[4200], key_path[4200];
    if (cert_file || key_file) {
        if (!cert_file || !key_file)
            return server_app_error("--cert and --key go together");
        snprintf(cert_path, sizeof cert_path, "%s", cert_file);
        snprintf(key_path, sizeof key_path, "%s", key_file);
    } else {
        snprintf(cert_path, sizeof cert_path, "%s/tls/cert.pem", data_dir);
        snprintf(key_path, sizeof key_path, "%s/tls/key.pem", data_dir);
        if (access(cert_path, F_OK) != 0 || access(key_path, F_OK) != 0) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/tls", data_dir);
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return server_app_error("cannot create %s: %s", dir, strerror(errno));
            char host[256], machine[256] = "";
            addr_host(https_addr, host, sizeof host);
            gethostname(machine, sizeof machine - 1);
            const char *names[4];
            unsigned n = 0;
            names[n++] = "localhost";
            names[n++] = "127.0.0.1";
            if (host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 &&
                strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0)
                names[n++] = host;
            if (machine[0] && strcmp(machine, "localhost") != 0)
                names[n++] = machine;
            char *cert = malloc(PEM_CAP), *key = malloc(PEM_CAP);
            atota_diag_t d = {{0}};
            atota_err_t err = cert && key
                                  ? atota_httpd_make_cert(names, n, cert, PEM_CAP, key, PEM_CAP, &d)
                                  : ATOTA_ERR_NO_MEM;
            if (!err)
                err = server_app_write_file(key_path, key, 0600, &d);
            if (!err)
                err = server_app_write_file(cert_path, cert, 0644, &d);
            if (key)
                memset(key, 0, PEM_CAP);
            free(cert);
            free(key);
            if (err)
                return server_app_error("cannot make a TLS certificate: %s",
                                        atota_diag_text(&d, err));
            printf("atota-server: made a self-signed certificate: %s\n", cert_path);
        }
    }
    *cert_pem = server_app_read_file(cert_path, NULL);
    if (!*cert_pem)
        return server_app_error("cannot read %s: %s", cert_path, strerror(errno));
    *key_pem = server_app_read_file(key_path, NULL);
    if (!*key_pem)
        return server_app_error("cannot read %s: %s", key_path, strerror(errno));
    return 0;
}

static int serve(int argc, char **argv)
{
    const char *data_dir = "./atota-data";
    const char *http_addr = "127.0.0.1:8070", *https_addr = "127.0.0.1:8443";
    const char *cert_file = NULL, *key_file = NULL, *public_url = NULL;
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},  {"http", required_argument, NULL, 'H'},
        {"https", required_argument, NULL, 'S'}, {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},   {"public-url", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case 'H':
            http_addr = listener(optarg);
            break;
        case 'S':
            https_addr = listener(optarg);
            break;
        case 'c':
            cert_file = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'u':
            public_url = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "atota-server: unexpected argument '%s'\n%s", argv[optind], usage);
        return EXIT_USAGE;
    }
    if (!http_addr && !https_addr)
        return server_app_error("no listener: give --http or --https");
    if (public_url && strncmp(public_url, "http://", 7) != 0 &&
        strncmp(public_url, "https://", 8) != 0)
        return server_app_error("--public-url must start with http:// or https://");

    atota_server_t srv;
    memset(&srv, 0, sizeof srv);
    srv.data_dir = data_dir;
    srv.log = log_line;
    atota_diag_t d = {{0}};
    atota_err_t err = server_app_open(data_dir, &srv.store, &srv.blobs, &d);
    if (err)
        return server_app_error("%s: %s", data_dir, atota_diag_text(&d, err));
    int rc = 0;
    char *cert_pem = NULL, *key_pem = NULL;
    atota_httpd_t *httpd = NULL;
    unsigned removed = 0;
    if ((err = server_app_gc(srv.store, srv.blobs, &removed)) != ATOTA_OK)
        log_line(NULL, "blob garbage collection skipped: the store could not be read");
    else if (removed)
        fprintf(stderr, "atota-server: removed %u unreferenced blob(s)\n", removed);
    rc = first_account(&srv);
    if (!rc && https_addr)
        rc = load_tls(data_dir, https_addr, cert_file, key_file, &cert_pem, &key_pem);
    if (rc)
        goto out;

    /* Route order matters (the first match wins): device API, hosting, management, console. */
    static atota_httpd_route_t routes[MAX_ROUTES];
    unsigned n = 0;
    n += atota_device_api_routes(&srv, routes + n, MAX_ROUTES - n);
    n += atota_hosting_routes(&srv, routes + n, MAX_ROUTES - n);
    n += atota_mgmt_api_routes(&srv, routes + n, MAX_ROUTES - n);
    n += atota_console_routes(&srv, routes + n, MAX_ROUTES - n);

    /* Signals are taken by sigwait below: blocked before the listener threads start, so that
     * they inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    atota_httpd_opts_t hopts;
    memset(&hopts, 0, sizeof hopts);
    hopts.http_addr = http_addr;
    hopts.https_addr = https_addr;
    hopts.cert_pem = cert_pem;
    hopts.key_pem = key_pem;
    hopts.log = log_line;
    uint16_t http_port = 0, https_port = 0;
    err = atota_httpd_start(&hopts, routes, n, &httpd, &http_port, &https_port, &d);
    if (err) {
        rc = server_app_error("cannot start: %s", atota_diag_text(&d, err));
        goto out;
    }
    /* The hosting URLs are known once the ports are bound (port 0 picks one). */
    if (public_url) {
        snprintf(srv.base_url, sizeof srv.base_url, "%s", public_url);
        size_t len = strlen(srv.base_url);
        while (len > 0 && srv.base_url[len - 1] == '/')
            srv.base_url[--len] = '\0';
    } else if (http_addr) {
        listener_url("http", http_addr, http_port, srv.base_url, sizeof srv.base_url);
    } else {
        listener_url("https", https_addr, https_port, srv.base_url, sizeof srv.base_url);
    }
    char host[256];
    if (http_addr) {
        addr_host(http_addr, host, sizeof host);
        printf("atota-server: http on %s:%u\n", host, (unsigned)http_port);
    }
    if (https_addr) {
        addr_host(https_addr, host, sizeof host);
        printf("atota-server: https on %s:%u\n", host, (unsigned)https_port);
    }
    printf("atota-server: console at %s/\n", srv.base_url);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "atota-server: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
    if (httpd)
        atota_httpd_stop(httpd);
    free(cert_pem);
    if (key_pem) {
        memset(key_pem, 0, strlen(key_pem));
        free(key_pem);
    }
    atota_blobs_close(srv.blobs);
    srv.store->ops->close(srv.store);
    return rc;
}

int main(int argc, char **argv)
{
    /* Lines for scripts that wait for "http on": out at once even when stdout is a file. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "admin") == 0)
        return server_admin_main(argc - 1, argv + 1);
    return serve(argc, argv);
}
