/* The dgram tool's argument parser (tools/args.c, pure): any argv gives OK or
 * USAGE, a one-line message that fits err, and on OK values in range. Input:
 * arguments separated by NUL bytes. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "dgram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048)
        return 0;
    char *text = malloc(size + 1);
    char *argv[130];
    CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    int argc = 0;
    argv[argc++] = "dgram";
    for (char *p = text; p <= text + size && argc < 128; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    args a;
    char err[128];
    memset(err, 'Z', sizeof err);
    int rc = args_parse(argc, argv, &a, err, sizeof err);
    CHECK(rc == STATUS_OK || rc == STATUS_USAGE);
    if (rc == STATUS_USAGE) {
        size_t n = strnlen(err, sizeof err);
        CHECK(n > 0 && n < sizeof err);
        for (size_t i = 0; i < n; i++) /* one line, and no terminal escapes from argv */
            CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
    } else {
        CHECK(a.cmd != CMD_NONE);
        if (a.cmd == CMD_ECHO || a.cmd == CMD_LISTEN || a.cmd == CMD_SEND) {
            CHECK(a.port >= 0 && a.port <= 65535);
            CHECK(a.max_packet_size >= 1 && a.max_packet_size <= DG_MAX_PACKET_SIZE_LIMIT);
            CHECK(a.interface);
        }
        if (a.cmd == CMD_SEND) {
            CHECK(a.host && a.nmessages >= 1 && a.messages);
            CHECK(a.timeout >= 0 && a.local_port >= 0 && a.local_port <= 65535);
            for (int i = 0; i < a.nmessages; i++)
                CHECK(a.messages[i]);
        }
        if (a.cmd == CMD_HELP)
            CHECK(args_help(a.help_topic)[0]);
        CHECK(args_command_name(a.cmd));
    }
    free(text);
    return 0;
}
