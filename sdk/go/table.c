// The plugin table ecsim reads, pointing at the Go functions of export.go.
#include "ecsim_plugin.h"
#include "_cgo_export.h"

static const char sdk_version[] = "0.1.0";

static const EcsimPluginTable table = {
    .abi_version = ECSIM_ABI_VERSION,
    .table_size = sizeof(EcsimPluginTable),
    .sdk_version = {.ptr = (const uint8_t *)sdk_version, .len = sizeof sdk_version - 1},
    .manifest = ecsimGoManifest,
    .create = ecsimGoCreate,
    .call = ecsimGoCall,
    .destroy = ecsimGoDestroy,
    .free = ecsimGoFree,
};

const EcsimPluginTable *ecsim_plugin_entry_v1(void) { return &table; }
