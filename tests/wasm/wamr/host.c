/* Records/s of the Fluent Bit filter module on WAMR's fast interpreter.
 *
 * Does per record what Fluent Bit's filter_wasm does (see
 * shared/integrations/fluent-bit-wasm.md): the JSON record {"log": line}
 * plus a NUL is copied into linear memory with wasm_runtime_module_dup_data
 * (WAMR's app heap, or the module's malloc if it exports malloc and free),
 * the exported function is called with the six i32 arguments, the result
 * is read as a NUL-terminated string, and the record is freed. Stack and
 * heap sizes are those of the example configs (256 KiB, 1 MiB). Only the
 * filter call is timed. Prints one JSON object: the median of PASSES passes
 * over the file, and how many records came back enriched (every one must).
 *
 * Usage: filter_host MODULE.wasm LOG [PASSES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm_export.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    if (!b || fread(b, 1, *len, f) != (size_t)*len) {
        fprintf(stderr, "reading %s failed\n", path);
        exit(2);
    }
    b[*len] = 0;
    fclose(f);
    return b;
}

/* {"log": line} with the line JSON-escaped, as in_tail makes it. */
static char *record(const char *line, size_t n, uint32_t *len) {
    char *r = malloc(n * 6 + 16), *o = r;
    o += sprintf(o, "{\"log\":\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = line[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = c;
        }
    }
    o += sprintf(o, "\"}");
    *len = (uint32_t)(o - r);
    return r;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: filter_host MODULE.wasm LOG [PASSES]\n");
        return 2;
    }
    int passes = argc > 3 ? atoi(argv[3]) : 3;
    if (passes < 1 || passes > 15) passes = 3;
    char err[256];
    RuntimeInitArgs init;
    memset(&init, 0, sizeof init);
    init.mem_alloc_type = Alloc_With_System_Allocator;
    if (!wasm_runtime_full_init(&init)) {
        fprintf(stderr, "WAMR init failed\n");
        return 1;
    }
    long wasm_len;
    char *wasm = slurp(argv[1], &wasm_len);
    wasm_module_t module = wasm_runtime_load((uint8_t *)wasm, (uint32_t)wasm_len, err, sizeof err);
    if (!module) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    const char *dirs[] = {"."};
    wasm_runtime_set_wasi_args(module, dirs, 1, NULL, 0, NULL, 0, NULL, 0);
    wasm_module_inst_t inst = wasm_runtime_instantiate(module, 256 * 1024, 1024 * 1024, err, sizeof err);
    if (!inst) {
        fprintf(stderr, "instantiate: %s\n", err);
        return 1;
    }
    wasm_exec_env_t env = wasm_runtime_create_exec_env(inst, 256 * 1024);
    wasm_function_inst_t filter = wasm_runtime_lookup_function(inst, "postfix_enrich", NULL);
    if (!env || !filter) {
        fprintf(stderr, "no exec env, or the module lacks postfix_enrich\n");
        return 1;
    }

    long log_len;
    char *log = slurp(argv[2], &log_len);
    int count = 0, cap = 1024;
    char **recs = malloc(cap * sizeof *recs);
    uint32_t *lens = malloc(cap * sizeof *lens);
    for (char *l = log; *l;) {
        char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n) {
            if (count == cap) {
                cap *= 2;
                recs = realloc(recs, cap * sizeof *recs);
                lens = realloc(lens, cap * sizeof *lens);
            }
            recs[count] = record(l, n, &lens[count]);
            count++;
        }
        if (!e) break;
        l = e + 1;
    }

    double per_record[15];
    int enriched = 0;
    for (int p = 0; p < passes; p++) {
        double spent = 0;
        for (int i = 0; i < count; i++) {
            /* recs[i] carries its NUL, as Fluent Bit's copy does. */
            uint32_t ptr = (uint32_t)wasm_runtime_module_dup_data(inst, recs[i], lens[i] + 1);
            if (ptr == 0) {
                fprintf(stderr, "dup_data: %s\n", wasm_runtime_get_exception(inst));
                return 1;
            }
            uint32_t args[6] = {0, 0, 0, 0, ptr, lens[i]};
            double t0 = now();
            if (!wasm_runtime_call_wasm(env, filter, 6, args)) {
                fprintf(stderr, "call: %s\n", wasm_runtime_get_exception(inst));
                return 1;
            }
            spent += now() - t0;
            if (!wasm_runtime_validate_app_str_addr(inst, args[0])) {
                fprintf(stderr, "record %d: the result is not a string in linear memory\n", i);
                return 1;
            }
            const char *out = wasm_runtime_addr_app_to_native(inst, args[0]);
            if (p == 0 && strstr(out, "\"postfix\":{")) enriched++;
            wasm_runtime_module_free(inst, ptr);
        }
        per_record[p] = spent / count;
    }
    qsort(per_record, passes, sizeof *per_record, cmp);
    printf("{\"records\":%d,\"enriched\":%d,\"records_per_s\":%.0f}\n", count, enriched, 1.0 / per_record[passes / 2]);
    return enriched == count ? 0 : 1;
}
