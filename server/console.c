/*
 * The web console: the files of server/console/ (plain HTML, JavaScript and CSS, no build step),
 * embedded at build time by cmake/embed_console.cmake and served at / (index.html) and
 * /console/<file>. The console is a client of the management API (docs/server-api.md) and nothing
 * more: it holds no secret but the CSRF token, in memory.
 *
 * Every answer carries Cache-Control: no-cache (an upgraded server is seen at once) and headers
 * that keep the console from being framed, sniffed or fed script from anywhere but itself. With
 * default-src 'self' the console has no inline script or style: the files follow that.
 */
#include <stddef.h>
#include <string.h>

#include "server/server.h"

/* The same declaration as in the generated console_data.c (cmake/embed_console.cmake). */
struct atota_console_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct atota_console_file atota_console_files[];

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t e = strlen(content_types[i].ext);
        if (n > e && strcmp(name + n - e, content_types[i].ext) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

static const struct atota_console_file *console_file_find(const char *name)
{
    /* A name is one path segment: "/console/a/../x" finds nothing, whatever the table holds. */
    if (name[0] == '\0' || strchr(name, '/') != NULL)
        return NULL;
    for (const struct atota_console_file *f = atota_console_files; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static void add_common_headers(atota_httpd_response_t *r)
{
    atota_httpd_response_header(r, "Cache-Control", "no-cache");
    atota_httpd_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; base-uri 'none'; form-action 'self'; "
                                "frame-ancestors 'none'");
    atota_httpd_response_header(r, "X-Content-Type-Options", "nosniff");
    atota_httpd_response_header(r, "X-Frame-Options", "DENY");
    atota_httpd_response_header(r, "Referrer-Policy", "no-referrer");
}

static atota_httpd_response_t *console_serve(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    atota_httpd_response_t *r;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        r = atota_httpd_response_error(405, "%s %s: the console answers GET and HEAD only",
                                       req->method, req->path);
        if (r != NULL)
            atota_httpd_response_header(r, "Allow", "GET, HEAD");
        return r;
    }
    const char *name;
    if (strcmp(req->path, "/") == 0 || strcmp(req->path, "/console/") == 0)
        name = "index.html";
    else if (strncmp(req->path, "/console/", 9) == 0)
        name = req->path + 9;
    else
        return atota_httpd_response_error(404, "%s: no such page", req->path);

    const struct atota_console_file *f = console_file_find(name);
    if (f == NULL)
        return atota_httpd_response_error(404, "%s: no such console file", req->path);
    r = atota_httpd_response_bytes(200, content_type_of(f->name), f->data, f->len);
    if (r != NULL)
        add_common_headers(r);
    return r;
}

unsigned atota_console_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max)
{
    const atota_httpd_route_t routes[] = {
        {NULL, "/", 0, console_serve, srv},
        {NULL, "/console/*", 0, console_serve, srv},
    };
    unsigned n = 0;
    for (; n < sizeof routes / sizeof routes[0] && n < max; n++)
        out[n] = routes[n];
    return n;
}
