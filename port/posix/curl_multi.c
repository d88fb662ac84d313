/*
 * The libcurl multi plumbing shared by the HTTP client and the streams (port/posix/curl_multi.h).
 */
#include "port/posix/curl_multi.h"

#include <time.h>

static unsigned g_users; /* curl_global_init / curl_global_cleanup by reference count */

uint64_t atota_curl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool atota_curl_global_acquire(void)
{
    if (g_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return false;
    g_users++;
    return true;
}

void atota_curl_global_release(void)
{
    if (g_users && --g_users == 0)
        curl_global_cleanup();
}

/* ---- libcurl's multi callbacks -------------------------------------------------------------- */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    atota_curl_poll_t *p = userp;
    int i;
    for (i = 0; i < p->nsockets && p->sockets[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < p->nsockets)
            p->sockets[i] = p->sockets[--p->nsockets];
        return 0;
    }
    if (i == p->nsockets) {
        if (p->nsockets == ATOTA_CURL_POLL_MAX_SOCKETS)
            return -1; /* libcurl fails the transfer: more sockets than one ever needs */
        p->nsockets++;
    }
    p->sockets[i].fd = fd;
    p->sockets[i].what = what;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    atota_curl_poll_t *p = userp;
    p->timer_set = timeout_ms >= 0;
    p->timer_at = atota_curl_mono_ms() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
    return 0;
}

/* ---- polling -------------------------------------------------------------------------------- */

void atota_curl_poll_install(atota_curl_poll_t *p, CURLM *multi)
{
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, p);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, p);
}

int atota_curl_poll_fds(const atota_curl_poll_t *p, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < p->nsockets && n < max; i++) {
        fds[n].fd = p->sockets[i].fd;
        fds[n].events = (short)(((p->sockets[i].what & CURL_POLL_IN) ? POLLIN : 0) |
                                ((p->sockets[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        fds[n].revents = 0;
        n++;
    }
    return n;
}

int atota_curl_poll_due(const atota_curl_poll_t *p)
{
    if (!p->timer_set)
        return -1;
    uint64_t now = atota_curl_mono_ms();
    uint64_t wait = p->timer_at > now ? p->timer_at - now : 0;
    return wait > 60000 ? 60000 : (int)wait;
}

void atota_curl_lower_timeout(int *timeout_ms, int due)
{
    if (due >= 0 && (*timeout_ms < 0 || due < *timeout_ms))
        *timeout_ms = due;
}

void atota_curl_poll_perform(atota_curl_poll_t *p, CURLM *multi, const struct pollfd *fds, int nfds)
{
    int running = 0;
    for (int i = 0; fds && i < nfds; i++) {
        if (!fds[i].revents)
            continue;
        bool ours = false;
        for (int k = 0; k < p->nsockets && !ours; k++)
            ours = p->sockets[k].fd == fds[i].fd;
        if (!ours)
            continue; /* libcurl closed it meanwhile */
        int ev = 0;
        if (fds[i].revents & (POLLIN | POLLHUP))
            ev |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT)
            ev |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLNVAL))
            ev |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, fds[i].fd, ev, &running);
    }
    if (p->timer_set && atota_curl_mono_ms() >= p->timer_at) {
        p->timer_set = false; /* the callback may set the next one */
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

bool atota_curl_is_tls_result(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}
