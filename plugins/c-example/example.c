/*
 * The example plugin of plugins/example (a run logbook), written in C against ecsim_plugin.h:
 * the same name, functions, configuration, events, runtime variables, outputs and failures, so
 * that a scenario gives the same traffic with either library (crates/ecsim/tests/cli.rs checks
 * it). What the Rust SDK does for a plugin, this file does by hand, and says where:
 *
 *   - protobuf: requests are read, and replies written, with the few lines of the wire format
 *     they need (varints and length-delimited fields) — no protobuf library;
 *   - memory: every reply is malloc'ed here and given back through `free`, to this allocator;
 *   - threads: each instance is called from one thread at a time, so an instance's state needs
 *     no lock; the instance table is filled with an atomic counter;
 *   - failures: nothing here can unwind; a bad request gets an error in its reply.
 *
 * Build: cc -shared -fPIC -std=c11 -I crates/ecsim-plugin-abi/include example.c -o libexample.so
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsim_plugin.h"

#define SDK_VERSION "0.1.0"
#define MAX_INSTANCES 4096
#define MAX_REFUSED 32
#define MAX_TEXT 1024

/* --- protobuf, the little of it needed ----------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* out of memory: the reply is dropped for an error */
} Buffer;

static void put(Buffer *b, const void *bytes, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) { b->failed = true; return; }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void put_varint(Buffer *b, uint64_t v) {
    uint8_t out[10];
    size_t n = 0;
    do {
        out[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) out[n] |= 0x80;
        n++;
    } while (v);
    put(b, out, n);
}

static void put_tag(Buffer *b, uint32_t field, uint32_t wire) { put_varint(b, ((uint64_t)field << 3) | wire); }

/* A varint field, omitted when 0 (proto3). */
static void put_uint(Buffer *b, uint32_t field, uint64_t v) {
    if (!v) return;
    put_tag(b, field, 0);
    put_varint(b, v);
}

static void put_bytes(Buffer *b, uint32_t field, const void *bytes, size_t n) {
    put_tag(b, field, 2);
    put_varint(b, n);
    put(b, bytes, n);
}

/* A string field, omitted when empty (proto3). */
static void put_string(Buffer *b, uint32_t field, const char *s) {
    if (s && *s) put_bytes(b, field, s, strlen(s));
}

/* A nested message, already encoded. */
static void put_message(Buffer *b, uint32_t field, Buffer *m) {
    if (m->failed) b->failed = true;
    put_bytes(b, field, m->data ? m->data : (const uint8_t *)"", m->len);
    free(m->data);
}

typedef struct {
    const uint8_t *p, *end;
} Reader;

static bool get_varint(Reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        *v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return true;
    }
    return false;
}

/* The next field: its number, wire type, and (for length-delimited ones) its bytes. */
static bool next_field(Reader *r, uint32_t *field, uint32_t *wire, uint64_t *varint, Reader *inner) {
    uint64_t tag;
    if (r->p >= r->end || !get_varint(r, &tag)) return false;
    *field = (uint32_t)(tag >> 3);
    *wire = (uint32_t)(tag & 7);
    switch (*wire) {
    case 0: return get_varint(r, varint);
    case 1: if (r->end - r->p < 8) return false; r->p += 8; return true;
    case 5: if (r->end - r->p < 4) return false; r->p += 4; return true;
    case 2: {
        uint64_t n;
        if (!get_varint(r, &n) || n > (uint64_t)(r->end - r->p)) return false;
        inner->p = r->p;
        inner->end = r->p + n;
        r->p += n;
        return true;
    }
    default: return false;
    }
}

/* Copies a field's bytes as a NUL-terminated string (truncated to the buffer). */
static void copy_text(char *out, size_t size, Reader *field) {
    size_t n = (size_t)(field->end - field->p);
    if (n >= size) n = size - 1;
    memcpy(out, field->p, n);
    out[n] = 0;
}

static EcsimOwnedBytes owned(Buffer *b) {
    if (b->failed) {
        free(b->data);
        return (EcsimOwnedBytes){0};
    }
    return (EcsimOwnedBytes){.ptr = b->data, .len = b->len, .capacity = b->cap};
}

/* --- the plugin ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t latency_ms;
    char refused[MAX_REFUSED][64];
    int refused_count;
    uint64_t runs_announced;
} Example;

static Example *instances[MAX_INSTANCES];
static atomic_uint_fast64_t next_instance = 1;

static EcsimOwnedBytes manifest(void) {
    Buffer info = {0}, out = {0};
    put_string(&info, 1, "example");
    put_string(&info, 2, "Example run logbook");
    put_string(&info, 3, "StartOfRun");
    put_string(&info, 3, "EndOfRun");
    put_string(&out, 1, SDK_VERSION);
    put_message(&out, 2, &info);
    return owned(&out);
}

static EcsimOwnedBytes create_error(const char *why) {
    Buffer out = {0};
    put_bytes(&out, 2, why, strlen(why));
    return owned(&out);
}

/* A Go duration as the example's configuration writes it: "1s", "500ms", "2m". */
static bool parse_duration(const char *text, uint64_t *ms) {
    char *rest;
    unsigned long long n = strtoull(text, &rest, 10);
    if (rest == text) return false;
    if (!strcmp(rest, "ms")) *ms = n;
    else if (!strcmp(rest, "s")) *ms = n * 1000;
    else if (!strcmp(rest, "m")) *ms = n * 60000;
    else return false;
    return true;
}

/* The configuration, `{"latency": "1s", "refuse_detectors": ["TPC"]}`, read with no JSON
 * library: the two keys and their values, anything else refused as the Rust example refuses
 * unknown keys. */
static const char *configure(Example *e, const char *json) {
    static const char *known[] = {"\"latency\"", "\"refuse_detectors\""};
    for (const char *p = strchr(json, '"'); p; p = strchr(p, '"')) {
        /* Keys follow '{' or ','; skip string values. */
        const char *before = p;
        while (before > json && (before[-1] == ' ' || before[-1] == '\n')) before--;
        bool is_key = before > json && (before[-1] == '{' || before[-1] == ',');
        const char *close = strchr(p + 1, '"');
        if (!close) return "the configuration is not JSON";
        if (is_key) {
            size_t n = (size_t)(close - p + 1);
            bool ok = false;
            for (size_t k = 0; k < 2; k++)
                if (strlen(known[k]) == n && !strncmp(p, known[k], n)) ok = true;
            if (!ok) return "unknown field in the configuration (expected latency, refuse_detectors)";
        }
        p = close + 1;
    }
    e->latency_ms = 1000;
    const char *latency = strstr(json, "\"latency\"");
    if (latency) {
        const char *open = strchr(latency + 9, '"');
        const char *close = open ? strchr(open + 1, '"') : NULL;
        char text[32] = {0};
        if (!close || (size_t)(close - open - 1) >= sizeof text) return "latency is not a duration (write 1s, 500ms)";
        memcpy(text, open + 1, (size_t)(close - open - 1));
        if (!parse_duration(text, &e->latency_ms)) return "latency is not a duration (write 1s, 500ms)";
    }
    const char *refuse = strstr(json, "\"refuse_detectors\"");
    if (refuse) {
        const char *p = strchr(refuse, '[');
        const char *end = p ? strchr(p, ']') : NULL;
        while (p && end && (p = strchr(p, '"')) && p < end && e->refused_count < MAX_REFUSED) {
            const char *close = strchr(p + 1, '"');
            size_t n = (size_t)(close - p - 1);
            if (n >= sizeof e->refused[0]) n = sizeof e->refused[0] - 1;
            memcpy(e->refused[e->refused_count], p + 1, n);
            e->refused[e->refused_count++][n] = 0;
            p = close + 1;
        }
    }
    return NULL;
}

static EcsimOwnedBytes create(EcsimBytes request) {
    Reader r = {request.ptr, request.ptr + request.len}, field;
    uint32_t number, wire;
    uint64_t varint;
    char config[MAX_TEXT] = "{}";
    while (next_field(&r, &number, &wire, &varint, &field))
        if (number == 3 && wire == 2) copy_text(config, sizeof config, &field);
    Example *e = calloc(1, sizeof *e);
    if (!e) return create_error("out of memory");
    const char *error = configure(e, config);
    if (error) {
        free(e);
        return create_error(error);
    }
    uint64_t id = atomic_fetch_add(&next_instance, 1);
    if (id >= MAX_INSTANCES) {
        free(e);
        return create_error("too many instances");
    }
    instances[id] = e;
    Buffer out = {0};
    put_tag(&out, 1, 0); /* the oneof's instance, written even when 0 */
    put_varint(&out, id);
    return owned(&out);
}

/* What a call reads of its request. */
typedef struct {
    char function[64], func[MAX_TEXT], role_path[MAX_TEXT], environment_id[64];
    char run_number[32], detectors[MAX_TEXT];
    int64_t now_ms;
} Request;

static void read_request(EcsimBytes bytes, Request *q) {
    Reader r = {bytes.ptr, bytes.ptr + bytes.len}, field;
    uint32_t number, wire;
    uint64_t varint;
    while (next_field(&r, &number, &wire, &varint, &field)) {
        if (number == 1 && wire == 2) copy_text(q->function, sizeof q->function, &field);
        if (number == 2 && wire == 2) copy_text(q->func, sizeof q->func, &field);
        if (number == 3 && wire == 2) copy_text(q->role_path, sizeof q->role_path, &field);
        if (number == 4 && wire == 2) copy_text(q->environment_id, sizeof q->environment_id, &field);
        if (number == 7 && wire == 0) q->now_ms = (int64_t)varint;
        if (number == 6 && wire == 2) { /* a vars map entry: key 1, value 2 */
            Reader entry = field, part;
            char key[64] = "", value[MAX_TEXT] = "";
            while (next_field(&entry, &number, &wire, &varint, &part)) {
                if (number == 1 && wire == 2) copy_text(key, sizeof key, &part);
                if (number == 2 && wire == 2) copy_text(value, sizeof value, &part);
            }
            if (!strcmp(key, "run_number")) snprintf(q->run_number, sizeof q->run_number, "%s", value);
            if (!strcmp(key, "detectors")) snprintf(q->detectors, sizeof q->detectors, "%s", value);
        }
    }
}

/* OpStatus of events.proto. */
enum { STARTED = 1, DONE_OK = 3, DONE_ERROR = 4 };

/* An integrated-service event of this call, as the Rust SDK's `service_event` fills it, due
 * `after_ms` after the call started, on aliecs.integrated_service.example. */
static void publish(Buffer *reply, const Request *q, uint64_t after_ms, int status, const char *step,
                    const char *payload, const char *error) {
    Buffer event = {0}, timed = {0};
    put_string(&event, 1, q->role_path);
    put_string(&event, 2, error);
    put_string(&event, 3, q->func);
    put_uint(&event, 4, (uint64_t)status);
    put_string(&event, 5, step);
    put_uint(&event, 6, (uint64_t)status);
    put_string(&event, 7, q->environment_id);
    put_string(&event, 8, payload);
    put_uint(&timed, 1, after_ms);
    put_string(&timed, 2, "example");
    put_message(&timed, 3, &event);
    put_message(reply, 4, &timed);
}

static EcsimOwnedBytes fail(Buffer *reply, uint64_t duration_ms, const char *message, const char *reason) {
    Buffer error = {0};
    put_string(&error, 1, message);
    put_string(&error, 2, reason);
    put_message(reply, 2, &error);
    put_uint(reply, 5, duration_ms);
    return owned(reply);
}

static EcsimOwnedBytes call(uint64_t instance, EcsimBytes request) {
    Buffer reply = {0};
    Example *e = instance < MAX_INSTANCES ? instances[instance] : NULL;
    if (!e) return fail(&reply, 0, "example has no such instance", "");
    Request q = {0};
    read_request(request, &q);
    const char *what;
    if (!strcmp(q.function, "StartOfRun")) what = "start";
    else if (!strcmp(q.function, "EndOfRun")) what = "end";
    else {
        char message[128];
        snprintf(message, sizeof message, "example has no function %s", q.function);
        return fail(&reply, 0, message, "");
    }
    char failed[128];
    snprintf(failed, sizeof failed, "example %s call failed", q.function);
    if (!q.run_number[0] || !strcmp(q.run_number, "0"))
        return fail(&reply, 0, failed, "the environment has no run number");

    /* The detectors variable is a JSON array of names: kept compact, as serde_json writes it. */
    char detectors[MAX_TEXT] = "[]";
    if (q.detectors[0] == '[') {
        size_t n = 0;
        bool quoted = false;
        for (const char *c = q.detectors; *c && n + 1 < sizeof detectors; c++) {
            if (*c == '"') quoted = !quoted;
            if (quoted || (*c != ' ' && *c != '\n')) detectors[n++] = *c;
        }
        detectors[n] = 0;
    }
    char payload[2 * MAX_TEXT], step[64];
    snprintf(payload, sizeof payload, "{\"runNumber\":\"%s\",\"detectors\":%s}", q.run_number, detectors);
    snprintf(step, sizeof step, "announce run %s", what);
    publish(&reply, &q, 0, STARTED, step, payload, "");

    uint64_t elapsed = e->latency_ms; /* the logbook takes its time, on ecsim's clock */
    for (int i = 0; i < e->refused_count; i++) {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "\"%s\"", e->refused[i]);
        if (strstr(detectors, quoted)) {
            char reason[128];
            snprintf(reason, sizeof reason, "the logbook refuses runs with %s", e->refused[i]);
            publish(&reply, &q, elapsed, DONE_ERROR, step, payload, reason);
            return fail(&reply, elapsed, failed, reason);
        }
    }
    publish(&reply, &q, elapsed, DONE_OK, step, payload, "");
    e->runs_announced++;

    Buffer entry = {0};
    char key[64], value[32], output[128];
    snprintf(key, sizeof key, "example_run_%s_ms", what);
    snprintf(value, sizeof value, "%lld", (long long)(q.now_ms + (int64_t)elapsed));
    put_string(&entry, 1, key);
    put_string(&entry, 2, value);
    put_message(&reply, 3, &entry);

    snprintf(output, sizeof output, "run %s %s announced (%llu so far)", q.run_number, what,
             (unsigned long long)e->runs_announced);
    put_string(&reply, 1, output);
    put_uint(&reply, 5, elapsed);
    return owned(&reply);
}

static EcsimOwnedBytes destroy(uint64_t instance) {
    if (instance < MAX_INSTANCES) {
        free(instances[instance]);
        instances[instance] = NULL;
    }
    Buffer out = {0};
    return owned(&out);
}

static void give_back(EcsimOwnedBytes bytes) { free(bytes.ptr); }

static const EcsimPluginTable table = {
    .abi_version = ECSIM_ABI_VERSION,
    .table_size = sizeof(EcsimPluginTable),
    .sdk_version = {.ptr = (const uint8_t *)SDK_VERSION, .len = sizeof SDK_VERSION - 1},
    .manifest = manifest,
    .create = create,
    .call = call,
    .destroy = destroy,
    .free = give_back,
};

const EcsimPluginTable *ecsim_plugin_entry_v1(void) { return &table; }
