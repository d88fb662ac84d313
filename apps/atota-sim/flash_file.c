/* atota-sim: the module's flash file, made for the module profile when it does not exist. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/atota-sim/sim.h"
#include "core/ota/flash_layout.h"

#define MAX_FLASH (256u << 20)

/* Builds the new flash in a file beside the target and renames it into place, so a process
 * killed while creating it leaves no half-made flash behind. */
static atota_err_t create_flash(const char *path, const atota_profile_t *profile, char *note,
                                size_t note_cap, atota_diag_t *diag)
{
    size_t cap = atota_flash_layout_factory_app_size(profile);
    uint8_t *app = cap ? malloc(cap) : NULL;
    if (!app)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "cannot build the factory firmware");
    size_t len = 0;
    atota_err_t err = atota_flash_layout_factory_app(profile, app, cap, &len, diag);
    if (err) {
        free(app);
        return err;
    }
    size_t tmp_len = strlen(path) + 32;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        free(app);
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    }
    snprintf(tmp, tmp_len, "%s.tmp-%ld", path, (long)getpid());
    atota_flash_sim_opts_t opts = {
        .path = tmp, .size = profile->flash_size, .create = true, .strict = true};
    atota_flash_sim_t *sim = NULL;
    err = atota_flash_sim_open(&opts, &sim, diag);
    if (!err) {
        atota_flash_layout_t layout;
        memset(&layout, 0, sizeof layout);
        layout.app = (atota_flash_layout_image_t){app, len, "factory firmware"};
        err = atota_flash_layout_write(atota_flash_sim_flash(sim), profile, &layout, diag);
        if (!err && atota_flash_sim_sync(sim))
            err = atota_diag_set(diag, ATOTA_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        atota_flash_sim_close(sim);
    }
    if (!err && rename(tmp, path) != 0)
        err = atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (err)
        unlink(tmp);
    else if (note)
        snprintf(note, note_cap, "created %s: %s (%s, %u MB) with the factory firmware %s", path,
                 profile->name, profile->chip->name, profile->flash_size >> 20,
                 ATOTA_FACTORY_APP_VERSION);
    free(tmp);
    free(app);
    return err;
}

atota_err_t sim_flash_open(const char *path, const atota_profile_t *profile,
                           atota_flash_sim_t **out, char *note, size_t note_cap, atota_diag_t *diag)
{
    *out = NULL;
    if (note && note_cap)
        note[0] = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return atota_diag_set(diag, ATOTA_ERR_IO, "cannot open: %s", strerror(errno));
        atota_err_t err = create_flash(path, profile, note, note_cap, diag);
        if (err)
            return err;
        if (stat(path, &st) != 0)
            return atota_diag_set(diag, ATOTA_ERR_IO, "cannot open: %s", strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "not a regular file");
    if (st.st_size == 0 || (uint64_t)st.st_size > MAX_FLASH)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "a flash file must be between 1 byte and 256 MB, not %lld bytes",
                              (long long)st.st_size);
    uint32_t size = (uint32_t)(((uint64_t)st.st_size + ATOTA_FLASH_BLOCK_SIZE - 1) &
                               ~(uint64_t)(ATOTA_FLASH_BLOCK_SIZE - 1));
    if (size < profile->flash_size)
        size = profile->flash_size;
    atota_flash_sim_opts_t opts = {.path = path, .size = size, .strict = true};
    return atota_flash_sim_open(&opts, out, diag);
}
