/* otadata (esp-idf-formats.md §5): CRC vectors, decode/encode, selection, slot mapping, and the
 * writes IDF makes, checked against the shared vectors and the spec's example bytes. */
#include "support/fixture.h"

#define OTADATA_OFF 0xd000u
#define SIM_SIZE    0x100000u

/* §5.3: the CRC table, with the little-endian bytes the copy stores. */
static void crc_matches_the_spec_vectors(void **state)
{
    (void)state;
    static const struct {
        uint32_t seq;
        uint32_t crc;
        uint8_t le[4];
    } v[] = {
        {0, 0xFFFFFFFFu, {0xff, 0xff, 0xff, 0xff}},
        {1, 0x4743989Au, {0x9a, 0x98, 0x43, 0x47}},
        {2, 0x55F63774u, {0x74, 0x37, 0xf6, 0x55}},
        {3, 0xED4A5011u, {0x11, 0x50, 0x4a, 0xed}},
        {4, 0x709D68A8u, {0xa8, 0x68, 0x9d, 0x70}},
        {5, 0xC8210FCDu, {0xcd, 0x0f, 0x21, 0xc8}},
        {0xFFFFFFFFu, 0x2144DF1Cu, {0x1c, 0xdf, 0x44, 0x21}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t got = atota_otadata_crc(v[i].seq);
        if (got != v[i].crc) {
            print_error("crc(seq 0x%x): expected 0x%08x, got 0x%08x\n", (unsigned)v[i].seq,
                        (unsigned)v[i].crc, (unsigned)got);
            fail();
        }
        atota_otadata_entry_t e;
        memset(&e, 0xFF, sizeof e);
        e.seq = v[i].seq;
        e.crc = got;
        uint8_t raw[ATOTA_OTADATA_ENTRY_LEN];
        atota_otadata_encode(&e, raw);
        fx_expect_bytes("crc bytes at offset 0x1c", raw + 0x1c, v[i].le, 4);
    }
}

static size_t read_vector(const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/otadata/%s", ATOTA_VECTORS_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_error("cannot open vector %s\n", path);
        fail();
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Loads a vector into the otadata partition of a fresh flash and reads it back through the API. */
static void load_vector(const char *name, atota_otadata_entry_t e[2])
{
    uint8_t buf[ATOTA_OTADATA_SIZE];
    size_t n = read_vector(name, buf, sizeof buf);
    assert_int_equal(n, ATOTA_OTADATA_SIZE);
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    memcpy(atota_flash_sim_data(sim) + OTADATA_OFF, buf, n);
    assert_int_equal(atota_otadata_read(atota_flash_sim_flash(sim), OTADATA_OFF, e), ATOTA_OK);
    atota_flash_sim_close(sim);
}

/* vectors/otadata/idf_ota_data_initial.bin.expected.txt: both copies erased, both invalid. */
static void idf_initial_otadata_has_no_valid_copy(void **state)
{
    (void)state;
    atota_otadata_entry_t e[2];
    load_vector("idf_ota_data_initial.bin", e);
    for (int i = 0; i < 2; i++) {
        fx_expect_entry("idf_ota_data_initial.bin", i, &e[i], 0xFFFFFFFFu,
                        ATOTA_OTA_STATE_UNDEFINED, 0xFFFFFFFFu);
        assert_true(atota_otadata_entry_invalid(&e[i]));
        assert_false(atota_otadata_entry_valid(&e[i]));
        assert_int_equal(atota_otadata_crc(e[i].seq), 0x2144df1cu); /* "expected_crc" */
    }
    assert_int_equal(atota_otadata_select(e), -1);
}

/* vectors/otadata/arduino_boot_app0.bin.expected.txt: copy 0 seq 1, copy 1 seq 0 (its CRC is
 * 0xFFFFFFFF, so erased CRC bytes pass); both VALID; copy 0 wins with 1 > 0 and selects ota_0. */
static void arduino_boot_app0_selects_copy_0_and_ota_0(void **state)
{
    (void)state;
    atota_otadata_entry_t e[2];
    load_vector("arduino_boot_app0.bin", e);
    fx_expect_entry("arduino_boot_app0.bin", 0, &e[0], 1, ATOTA_OTA_STATE_UNDEFINED, 0x4743989au);
    fx_expect_entry("arduino_boot_app0.bin", 1, &e[1], 0, ATOTA_OTA_STATE_UNDEFINED, 0xffffffffu);
    assert_true(atota_otadata_entry_valid(&e[0]));
    assert_true(atota_otadata_entry_valid(&e[1]));
    assert_int_equal(atota_otadata_select(e), 0);
    assert_int_equal(atota_otadata_slot(e[0].seq, 2), 0);
    assert_int_equal(atota_otadata_slot(e[0].seq, 1), 0);
}

/* §5.7: the bytes of copy 0 after set_boot_partition(ota_0) from blank, rollback enabled, and of a
 * copy holding seq 2 INVALID; the rest of both sectors stays erased. */
static void set_boot_slot_from_blank_writes_the_spec_bytes(void **state)
{
    (void)state;
    static const uint8_t want0[32] = {
        0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x9a, 0x98, 0x43, 0x47,
    };
    static const uint8_t want_invalid[32] = {
        0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x03, 0x00, 0x00, 0x00, 0x74, 0x37, 0xf6, 0x55,
    };
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    const uint8_t *od = atota_flash_sim_data(sim) + OTADATA_OFF;

    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 0, 2, true), ATOTA_OK);
    fx_expect_bytes("copy 0 after set_boot_slot(0) from blank", od, want0, 32);
    assert_true(fx_is_blank(od + 32, ATOTA_FLASH_SECTOR_SIZE - 32));
    assert_true(fx_is_blank(od + ATOTA_FLASH_SECTOR_SIZE, ATOTA_FLASH_SECTOR_SIZE));
    /* One sector erase and one page program. */
    assert_int_equal(fx_mutating_ops(sim), 2);

    atota_otadata_entry_t e;
    memset(&e, 0xFF, sizeof e);
    e.seq = 2;
    e.state = ATOTA_OTA_STATE_INVALID;
    e.crc = atota_otadata_crc(2);
    uint8_t raw[32];
    atota_otadata_encode(&e, raw);
    fx_expect_bytes("encode(seq 2, INVALID)", raw, want_invalid, 32);

    atota_otadata_entry_t back;
    atota_otadata_decode(want_invalid, &back);
    fx_expect_entry("decode(seq 2, INVALID)", 1, &back, 2, ATOTA_OTA_STATE_INVALID, 0x55f63774u);
    assert_true(fx_is_blank(back.seq_label, sizeof back.seq_label));
    atota_flash_sim_close(sim);
}

static atota_otadata_entry_t entry(uint32_t seq, uint32_t st)
{
    atota_otadata_entry_t e;
    memset(&e, 0xFF, sizeof e);
    e.seq = seq;
    e.state = st;
    e.crc = atota_otadata_crc(seq);
    return e;
}

/* §5.4 select_otadata: the larger valid seq; a tie goes to copy 0; a single valid copy wins. */
static void select_takes_the_larger_seq_and_ties_to_copy_0(void **state)
{
    (void)state;
    atota_otadata_entry_t e[2];
    e[0] = entry(3, ATOTA_OTA_STATE_VALID);
    e[1] = entry(3, ATOTA_OTA_STATE_VALID);
    assert_int_equal(atota_otadata_select(e), 0);
    e[1] = entry(4, ATOTA_OTA_STATE_NEW);
    assert_int_equal(atota_otadata_select(e), 1);
    e[0] = entry(9, ATOTA_OTA_STATE_UNDEFINED);
    assert_int_equal(atota_otadata_select(e), 0);
    e[0] = entry(9, ATOTA_OTA_STATE_ABORTED);
    assert_int_equal(atota_otadata_select(e), 1);
    e[1] = entry(4, ATOTA_OTA_STATE_INVALID);
    assert_int_equal(atota_otadata_select(e), -1);
}

/* §5.4: only INVALID and ABORTED are excluded; NEW, PENDING_VERIFY, VALID, UNDEFINED count. */
static void invalid_and_aborted_are_excluded(void **state)
{
    (void)state;
    static const struct {
        uint32_t st;
        bool valid;
    } v[] = {
        {ATOTA_OTA_STATE_NEW, true},
        {ATOTA_OTA_STATE_PENDING_VERIFY, true},
        {ATOTA_OTA_STATE_VALID, true},
        {ATOTA_OTA_STATE_INVALID, false},
        {ATOTA_OTA_STATE_ABORTED, false},
        {ATOTA_OTA_STATE_UNDEFINED, true},
        {0x5, true}, /* an unknown state is not one of the two excluded ones */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        atota_otadata_entry_t e = entry(7, v[i].st);
        char sb[12];
        if (atota_otadata_entry_valid(&e) != v[i].valid) {
            print_error("state %s: expected valid=%d, got %d\n",
                        atota_otadata_state_name(v[i].st, sb), v[i].valid, !v[i].valid);
            fail();
        }
        assert_int_equal(atota_otadata_entry_invalid(&e), !v[i].valid);
    }
}

/* §5.4: invalid() has no CRC check, valid() has; an empty seq is invalid whatever its CRC. */
static void wrong_crc_makes_a_copy_invalid(void **state)
{
    (void)state;
    atota_otadata_entry_t e[2];
    e[0] = entry(5, ATOTA_OTA_STATE_VALID);
    e[1] = entry(2, ATOTA_OTA_STATE_VALID);
    e[0].crc ^= 1;
    assert_false(atota_otadata_entry_invalid(&e[0]));
    assert_false(atota_otadata_entry_valid(&e[0]));
    assert_int_equal(atota_otadata_select(e), 1); /* seq 5 loses: its CRC is wrong */
    atota_otadata_entry_t empty = entry(0xFFFFFFFFu, ATOTA_OTA_STATE_VALID);
    assert_true(atota_otadata_entry_invalid(&empty));
    assert_false(atota_otadata_entry_valid(&empty));
}

/* §5.4: (seq - 1) % n in uint32: seq 0 is valid (its CRC equals erased bytes) and wraps. */
static void slot_mapping_wraps_in_uint32(void **state)
{
    (void)state;
    assert_int_equal(atota_otadata_slot(1, 2), 0);
    assert_int_equal(atota_otadata_slot(2, 2), 1);
    assert_int_equal(atota_otadata_slot(3, 2), 0);
    assert_int_equal(atota_otadata_slot(8, 8), 7);
    assert_int_equal(atota_otadata_slot(0, 2), 0xFFFFFFFFu % 2); /* 1 */
    assert_int_equal(atota_otadata_slot(0, 2), 1);
    assert_int_equal(atota_otadata_slot(0, 3), 0); /* 0xFFFFFFFF = 3 * 0x55555555 */
    assert_int_equal(atota_otadata_slot(0, 7), 0xFFFFFFFFu % 7);
    assert_int_equal(atota_otadata_slot(0, 7), 3);
    assert_int_equal(atota_otadata_slot(0, 1), 0);
    atota_otadata_entry_t zero = entry(0, ATOTA_OTA_STATE_UNDEFINED);
    assert_int_equal(zero.crc, 0xFFFFFFFFu);
    uint8_t raw[32];
    memset(raw, 0xFF, sizeof raw);
    memset(raw, 0, 4); /* seq programmed as 0, the rest still erased */
    atota_otadata_entry_t e;
    atota_otadata_decode(raw, &e);
    assert_true(atota_otadata_entry_valid(&e));
}

static void expect_flash_entries(const char *what, atota_flash_sim_t *sim, uint32_t seq0,
                                 uint32_t st0, uint32_t seq1, uint32_t st1)
{
    atota_otadata_entry_t e[2];
    fx_get_otadata(sim, OTADATA_OFF, e);
    fx_expect_entry(what, 0, &e[0], seq0, st0,
                    seq0 == 0xFFFFFFFFu ? 0xFFFFFFFFu : atota_otadata_crc(seq0));
    fx_expect_entry(what, 1, &e[1], seq1, st1,
                    seq1 == 0xFFFFFFFFu ? 0xFFFFFFFFu : atota_otadata_crc(seq1));
}

/* §5.5: from blank, copy 0 gets slot + 1; from an active copy, the other copy gets the smallest
 * seq >= the active one that maps to the slot; rollback off writes UNDEFINED. */
static void set_boot_slot_writes_the_non_active_copy(void **state)
{
    (void)state;
    const uint32_t E = 0xFFFFFFFFu;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);

    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1, 2, false), ATOTA_OK);
    expect_flash_entries("blank -> slot 1", sim, 2, ATOTA_OTA_STATE_UNDEFINED, E,
                         ATOTA_OTA_STATE_UNDEFINED);
    /* active copy 0 (seq 2, slot 1) -> slot 0: copy 1, (0+1)%2 + i*2 >= 2 -> 3 */
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 0, 2, false), ATOTA_OK);
    expect_flash_entries("copy 0 active -> slot 0", sim, 2, ATOTA_OTA_STATE_UNDEFINED, 3,
                         ATOTA_OTA_STATE_UNDEFINED);
    /* active copy 1 (seq 3) -> slot 1: copy 0 gets 4 */
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_flash_entries("copy 1 active -> slot 1", sim, 4, ATOTA_OTA_STATE_NEW, 3,
                         ATOTA_OTA_STATE_UNDEFINED);
    atota_otadata_entry_t e[2];
    assert_int_equal(atota_otadata_read(flash, OTADATA_OFF, e), ATOTA_OK);
    assert_int_equal(atota_otadata_select(e), 0);
    assert_int_equal(atota_otadata_slot(e[0].seq, 2), 1);

    /* v5.5 always writes the other copy, even for the slot already active: seq stays 4. */
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_flash_entries("re-select the active slot", sim, 4, ATOTA_OTA_STATE_NEW, 4,
                         ATOTA_OTA_STATE_NEW);
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 2, 2, true),
                     ATOTA_ERR_NO_OTA_SLOT);
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 0, 0, true),
                     ATOTA_ERR_NO_OTA_SLOT);
    atota_flash_sim_close(sim);
}

/* §5.5 worked example: seqs 4 and 5, n = 8, boot slot 7 -> new seq 8 in copy 0 (copy 1 active). */
static void set_boot_slot_worked_example(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    fx_put_otadata(sim, OTADATA_OFF, 0, 4, ATOTA_OTA_STATE_VALID, atota_otadata_crc(4));
    fx_put_otadata(sim, OTADATA_OFF, 1, 5, ATOTA_OTA_STATE_VALID, atota_otadata_crc(5));
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 7, 8, true), ATOTA_OK);
    expect_flash_entries("worked example", sim, 8, ATOTA_OTA_STATE_NEW, 5, ATOTA_OTA_STATE_VALID);
    atota_otadata_entry_t e[2];
    fx_get_otadata(sim, OTADATA_OFF, e);
    assert_int_equal(atota_otadata_select(e), 0);
    assert_int_equal(atota_otadata_slot(e[0].seq, 8), 7);

    /* Running slot 4 (seq 5), boot slot 2 of 8: (2+1)%8 = 3, 3 + 8 = 11 >= 5 -> 11. */
    fx_put_otadata(sim, OTADATA_OFF, 0, 4, ATOTA_OTA_STATE_VALID, atota_otadata_crc(4));
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 2, 8, true), ATOTA_OK);
    expect_flash_entries("slot 2 of 8 from seq 5", sim, 11, ATOTA_OTA_STATE_NEW, 5,
                         ATOTA_OTA_STATE_VALID);
    atota_flash_sim_close(sim);
}

/* A seq near the top cannot be followed without reaching 0xFFFFFFFF, the empty marker. */
static void set_boot_slot_refuses_to_reach_the_empty_seq(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    fx_put_otadata(sim, OTADATA_OFF, 0, 0xFFFFFFFEu, ATOTA_OTA_STATE_VALID,
                   atota_otadata_crc(0xFFFFFFFEu));
    /* slot of 0xFFFFFFFE with n = 2 is 1; slot 0 needs an odd seq >= 0xFFFFFFFE: 0xFFFFFFFF. */
    uint64_t before = fx_mutating_ops(sim);
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 0, 2, true), ATOTA_ERR_STATE);
    assert_int_equal(fx_mutating_ops(sim), before);
    /* slot 1 is reachable with seq 0xFFFFFFFE itself. */
    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_flash_entries("near the top", sim, 0xFFFFFFFEu, ATOTA_OTA_STATE_VALID, 0xFFFFFFFEu,
                         ATOTA_OTA_STATE_NEW);
    atota_flash_sim_close(sim);
}

/* §5.5: mark_valid / mark_invalid rewrite the active copy in place; VALID twice is a no-op. */
static void mark_valid_and_invalid_rewrite_the_active_copy(void **state)
{
    (void)state;
    const uint32_t E = 0xFFFFFFFFu;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);

    assert_int_equal(atota_otadata_mark_valid(flash, OTADATA_OFF), ATOTA_ERR_OTADATA_INVALID);
    assert_int_equal(atota_otadata_mark_invalid(flash, OTADATA_OFF), ATOTA_ERR_OTADATA_INVALID);
    assert_int_equal(fx_mutating_ops(sim), 0);

    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 0, 2, true), ATOTA_OK);
    assert_int_equal(atota_otadata_mark_valid(flash, OTADATA_OFF), ATOTA_OK);
    expect_flash_entries("mark_valid", sim, 1, ATOTA_OTA_STATE_VALID, E, ATOTA_OTA_STATE_UNDEFINED);
    uint64_t before = fx_mutating_ops(sim);
    assert_int_equal(atota_otadata_mark_valid(flash, OTADATA_OFF), ATOTA_OK);
    assert_int_equal(fx_mutating_ops(sim), before);

    assert_int_equal(atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_flash_entries("switch to slot 1", sim, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_NEW);
    assert_int_equal(atota_otadata_mark_invalid(flash, OTADATA_OFF), ATOTA_OK);
    expect_flash_entries("mark_invalid", sim, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_INVALID);
    atota_otadata_entry_t e[2];
    fx_get_otadata(sim, OTADATA_OFF, e);
    assert_int_equal(atota_otadata_select(e), 0); /* back to the old slot */
    atota_flash_sim_close(sim);
}

static void write_copy_and_erase(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    uint8_t *od = atota_flash_sim_data(sim) + OTADATA_OFF;
    atota_otadata_entry_t e = entry(6, ATOTA_OTA_STATE_PENDING_VERIFY);
    e.crc = 0x12345678u; /* written as given: the bootloader's write_otadata keeps the CRC */

    assert_int_equal(atota_otadata_write_copy(flash, OTADATA_OFF, 2, &e), ATOTA_ERR_INVALID_ARG);
    assert_int_equal(atota_otadata_write_copy(flash, OTADATA_OFF, 1, &e), ATOTA_OK);
    /* Over a programmed sector (strict flash): the erase comes first. */
    assert_int_equal(atota_otadata_write_copy(flash, OTADATA_OFF, 1, &e), ATOTA_OK);
    atota_otadata_entry_t got[2];
    assert_int_equal(atota_otadata_read(flash, OTADATA_OFF, got), ATOTA_OK);
    fx_expect_entry("write_copy", 1, &got[1], 6, ATOTA_OTA_STATE_PENDING_VERIFY, 0x12345678u);
    assert_true(fx_is_blank(od, ATOTA_FLASH_SECTOR_SIZE));
    assert_true(fx_is_blank(od + ATOTA_FLASH_SECTOR_SIZE + 32, ATOTA_FLASH_SECTOR_SIZE - 32));

    assert_int_equal(atota_otadata_erase(flash, OTADATA_OFF), ATOTA_OK);
    assert_true(fx_is_blank(od, ATOTA_OTADATA_SIZE));
    assert_int_equal(atota_otadata_read(flash, 0x100000u - 0x1000u, got), ATOTA_ERR_FLASH_RANGE);
    atota_flash_sim_close(sim);
}

static void state_names(void **state)
{
    (void)state;
    char b[12];
    assert_string_equal(atota_otadata_state_name(0, b), "NEW");
    assert_string_equal(atota_otadata_state_name(1, b), "PENDING_VERIFY");
    assert_string_equal(atota_otadata_state_name(2, b), "VALID");
    assert_string_equal(atota_otadata_state_name(3, b), "INVALID");
    assert_string_equal(atota_otadata_state_name(4, b), "ABORTED");
    assert_string_equal(atota_otadata_state_name(0xFFFFFFFFu, b), "UNDEFINED");
    assert_string_equal(atota_otadata_state_name(0xdeadbeefu, b), "0xdeadbeef");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_matches_the_spec_vectors),
        cmocka_unit_test(idf_initial_otadata_has_no_valid_copy),
        cmocka_unit_test(arduino_boot_app0_selects_copy_0_and_ota_0),
        cmocka_unit_test(set_boot_slot_from_blank_writes_the_spec_bytes),
        cmocka_unit_test(select_takes_the_larger_seq_and_ties_to_copy_0),
        cmocka_unit_test(invalid_and_aborted_are_excluded),
        cmocka_unit_test(wrong_crc_makes_a_copy_invalid),
        cmocka_unit_test(slot_mapping_wraps_in_uint32),
        cmocka_unit_test(set_boot_slot_writes_the_non_active_copy),
        cmocka_unit_test(set_boot_slot_worked_example),
        cmocka_unit_test(set_boot_slot_refuses_to_reach_the_empty_seq),
        cmocka_unit_test(mark_valid_and_invalid_rewrite_the_active_copy),
        cmocka_unit_test(write_copy_and_erase),
        cmocka_unit_test(state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
