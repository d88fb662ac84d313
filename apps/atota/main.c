/* atota: the command-line tool for firmware images, partition tables and flash images. */
#include <stdio.h>
#include <string.h>

#include "apps/atota/cli.h"

static const char usage[] =
    "usage: atota <command> [options]\n"
    "\n"
    "commands:\n"
    "  image info FILE            what is in an app or bootloader image; exit 0 only if valid\n"
    "  image create -o OUT [...]  build a valid app image (atota image create --help)\n"
    "  part gen CSV -o BIN        partition table CSV -> binary (gen_esp32part compatible)\n"
    "  part dump BIN              partition table binary -> CSV\n"
    "  flash create --module M --app IMAGE -o FLASH\n"
    "                             a complete flash image for a module\n"
    "  flash info FLASH           partition map, otadata, which app boots and why\n"
    "  flash modules              the module profiles this build knows\n"
    "  at --port PORT CMD...      send AT commands to a module (atota-sim or real) and print\n"
    "                             the replies; exit 0 when every one ends in OK\n"
    "  userota --port PORT URL    upgrade a module with AT+USEROTA from URL and check the new\n"
    "                             version (atota userota --help)\n"
    "  ciupdate --port PORT [...] upgrade a module with AT+CIUPDATE from its OTA server and show\n"
    "                             its progress; --list the server's versions (AT+CIPFWVER?),\n"
    "                             --state the last update's (atota ciupdate --help)\n"
    "  web info|upload|wifi --url URL\n"
    "                             a module's web server (AT+WEBSERVER): its firmware and\n"
    "                             partitions, an upload, or its Wi-Fi setup (atota web --help)\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "image"))
        return cli_cmd_image(argc - 1, argv + 1);
    if (!strcmp(cmd, "part"))
        return cli_cmd_part(argc - 1, argv + 1);
    if (!strcmp(cmd, "flash"))
        return cli_cmd_flash(argc - 1, argv + 1);
    if (!strcmp(cmd, "at"))
        return cli_cmd_at(argc - 1, argv + 1);
    if (!strcmp(cmd, "userota"))
        return cli_cmd_userota(argc - 1, argv + 1);
    if (!strcmp(cmd, "ciupdate"))
        return cli_cmd_ciupdate(argc - 1, argv + 1);
    if (!strcmp(cmd, "web"))
        return cli_cmd_web(argc - 1, argv + 1);
    fprintf(stderr, "atota: unknown command '%s'\n%s", cmd, usage);
    return CLI_EXIT_USAGE;
}
