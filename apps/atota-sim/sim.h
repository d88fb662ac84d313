/* atota-sim: the pieces of the simulator program shared between its files. */
#ifndef ATOTA_APPS_ATOTA_SIM_SIM_H
#define ATOTA_APPS_ATOTA_SIM_SIM_H

#include <stdio.h>

#include "core/err.h"
#include "core/fmt/profile.h"
#include "port/posix/flash_sim.h"

/* Opens the module's flash file, creating it (the profile's layout with the factory firmware,
 * core/ota/flash_layout.h) when it does not exist. The simulated flash is at least the profile's
 * size: a shorter file (a merged image that ends early) is extended with 0xFF. Strict NOR rules.
 * note (may be NULL) receives one line saying what was done ("created ..."). */
atota_err_t sim_flash_open(const char *path, const atota_profile_t *profile,
                           atota_flash_sim_t **out, char *note, size_t note_cap,
                           atota_diag_t *diag);

#endif /* ATOTA_APPS_ATOTA_SIM_SIM_H */
