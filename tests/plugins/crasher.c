/*
 * A plugin library that dies on request, for the isolation tests (crates/ecsim/tests/cli.rs):
 * plugin `crasher`, whose functions end its process in each way a C or C++ library can —
 * Segfault (a write through a null pointer), Abort (abort()), Exit (exit(0)), StackOverflow
 * (unbounded recursion), Hang (never returns) — and Ok, which answers "ok".
 *
 * Loaded in process, any of them but Ok and Hang ends ecsim; isolated, each fails its call.
 *
 * Build: cc -shared -fPIC -std=c11 -I crates/ecsim-plugin-abi/include crasher.c -o libcrasher.so
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsim_plugin.h"

typedef struct {
    uint8_t data[512];
    size_t len;
} Small;

static void put_byte(Small *b, uint8_t v) {
    if (b->len < sizeof b->data) b->data[b->len++] = v;
}

static void put_varint(Small *b, uint64_t v) {
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        put_byte(b, byte | (v ? 0x80 : 0));
    } while (v);
}

static void put_string(Small *b, uint32_t field, const char *s) {
    size_t n = strlen(s);
    put_varint(b, ((uint64_t)field << 3) | 2);
    put_varint(b, n);
    for (size_t i = 0; i < n; i++) put_byte(b, (uint8_t)s[i]);
}

static EcsimOwnedBytes give(const Small *b) {
    uint8_t *copy = malloc(b->len ? b->len : 1);
    if (copy && b->len) memcpy(copy, b->data, b->len);
    EcsimOwnedBytes out = {copy, copy ? b->len : 0, copy ? (b->len ? b->len : 1) : 0};
    return out;
}

static const char *FUNCTIONS[] = {"Ok", "Segfault", "Abort", "Exit", "StackOverflow", "Hang"};

static EcsimOwnedBytes manifest(void) {
    Small info = {{0}, 0}, out = {{0}, 0};
    put_string(&info, 1, "crasher");
    put_string(&info, 2, "Crasher");
    for (size_t i = 0; i < sizeof FUNCTIONS / sizeof *FUNCTIONS; i++) put_string(&info, 3, FUNCTIONS[i]);
    put_string(&out, 1, "0.1.0");
    put_varint(&out, (2 << 3) | 2);
    put_varint(&out, info.len);
    for (size_t i = 0; i < info.len; i++) put_byte(&out, info.data[i]);
    return give(&out);
}

static EcsimOwnedBytes create(EcsimBytes request) {
    (void)request;
    Small out = {{0}, 0};
    put_varint(&out, (1 << 3) | 0); /* CreateReply.instance = 1 */
    put_varint(&out, 1);
    return give(&out);
}

/* Field 1 of a CallRequest, the function's name, copied into `name`. */
static void function_of(EcsimBytes request, char *name, size_t size) {
    name[0] = 0;
    size_t at = 0;
    while (at < request.len) {
        uint64_t key = 0;
        int shift = 0;
        while (at < request.len && shift < 64) {
            uint8_t byte = request.ptr[at++];
            key |= (uint64_t)(byte & 0x7f) << shift;
            shift += 7;
            if (!(byte & 0x80)) break;
        }
        if ((key & 7) != 2) return; /* the function comes first; anything else: give up */
        uint64_t len = 0;
        shift = 0;
        while (at < request.len && shift < 64) {
            uint8_t byte = request.ptr[at++];
            len |= (uint64_t)(byte & 0x7f) << shift;
            shift += 7;
            if (!(byte & 0x80)) break;
        }
        if (len > request.len - at) return;
        if ((key >> 3) == 1) {
            size_t n = len < size - 1 ? (size_t)len : size - 1;
            memcpy(name, request.ptr + at, n);
            name[n] = 0;
            return;
        }
        at += (size_t)len;
    }
}

static volatile int sink;

/* Recurses until the stack runs out; `sink` keeps the compiler from seeing that it never ends. */
static int recurse(int depth) {
    volatile char frame[4096];
    frame[0] = (char)depth;
    if (sink < 0) return frame[0];
    return recurse(depth + 1) + frame[1];
}

static EcsimOwnedBytes call(uint64_t instance, EcsimBytes request) {
    (void)instance;
    char name[64];
    function_of(request, name, sizeof name);
    if (!strcmp(name, "Segfault")) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    } else if (!strcmp(name, "Abort")) {
        abort();
    } else if (!strcmp(name, "Exit")) {
        exit(0);
    } else if (!strcmp(name, "StackOverflow")) {
        sink = recurse(0);
    } else if (!strcmp(name, "Hang")) {
        for (;;) pause();
    }
    Small out = {{0}, 0};
    put_string(&out, 1, "ok");
    return give(&out);
}

static EcsimOwnedBytes destroy(uint64_t instance) {
    (void)instance;
    Small out = {{0}, 0};
    return give(&out);
}

static void release(EcsimOwnedBytes bytes) { free(bytes.ptr); }

static const EcsimPluginTable TABLE = {
    .abi_version = ECSIM_ABI_VERSION,
    .table_size = sizeof(EcsimPluginTable),
    .sdk_version = {.ptr = (const uint8_t *)"0.1.0", .len = 5},
    .manifest = manifest,
    .create = create,
    .call = call,
    .destroy = destroy,
    .free = release,
};

const EcsimPluginTable *ecsim_plugin_entry_v1(void) { return &TABLE; }
