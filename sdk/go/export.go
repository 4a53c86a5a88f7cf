package ecsim

// The C side of the SDK: the functions of the plugin table (table.c), each decoding its
// request, calling into plugin.go, and encoding its reply into C memory that ecsim gives back
// through ecsimGoFree. A panic anywhere here becomes an error reply: nothing unwinds into C.

/*
#cgo CFLAGS: -std=c11
#include <stdlib.h>
#include <string.h>
#include "ecsim_plugin.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	pluginpb "ecsim.dev/sdk/go/pb/plugin"
	"google.golang.org/protobuf/proto"
)

// reply copies an encoded message into C memory.
func reply(message proto.Message) C.EcsimOwnedBytes {
	bytes, err := proto.Marshal(message)
	if err != nil || len(bytes) == 0 {
		return C.EcsimOwnedBytes{}
	}
	ptr := C.malloc(C.size_t(len(bytes)))
	if ptr == nil {
		return C.EcsimOwnedBytes{}
	}
	C.memcpy(ptr, unsafe.Pointer(&bytes[0]), C.size_t(len(bytes)))
	return C.EcsimOwnedBytes{ptr: (*C.uint8_t)(ptr), len: C.size_t(len(bytes)), capacity: C.size_t(len(bytes))}
}

// request reads borrowed bytes (copied: ecsim owns them only for the call).
func request(bytes C.EcsimBytes, into proto.Message) error {
	data := C.GoBytes(unsafe.Pointer(bytes.ptr), C.int(bytes.len))
	return proto.Unmarshal(data, into)
}

//export ecsimGoManifest
func ecsimGoManifest() (out C.EcsimOwnedBytes) {
	defer func() {
		if recovered := recover(); recovered != nil {
			out = reply(&pluginpb.Manifest{SdkVersion: "0.1.0", Error: fmt.Sprintf("panicked while listing its plugins: %v", recovered)})
		}
	}()
	return reply(manifest())
}

//export ecsimGoCreate
func ecsimGoCreate(bytes C.EcsimBytes) (out C.EcsimOwnedBytes) {
	failed := func(err string) C.EcsimOwnedBytes {
		return reply(&pluginpb.CreateReply{Result: &pluginpb.CreateReply_Error{Error: err}})
	}
	defer func() {
		if recovered := recover(); recovered != nil {
			out = failed(fmt.Sprintf("panicked while creating an instance: %v", recovered))
		}
	}()
	var req pluginpb.CreateRequest
	if err := request(bytes, &req); err != nil {
		return failed("the create request does not decode: " + err.Error())
	}
	id, err := create(&req)
	if err != nil {
		return failed(err.Error())
	}
	return reply(&pluginpb.CreateReply{Result: &pluginpb.CreateReply_Instance{Instance: id}})
}

//export ecsimGoCall
func ecsimGoCall(id C.uint64_t, bytes C.EcsimBytes) (out C.EcsimOwnedBytes) {
	defer func() {
		if recovered := recover(); recovered != nil {
			out = reply(&pluginpb.CallReply{Error: &pluginpb.CallError{Message: fmt.Sprintf("the call panicked: %v", recovered), Panicked: true}})
		}
	}()
	var req pluginpb.CallRequest
	if err := request(bytes, &req); err != nil {
		return reply(&pluginpb.CallReply{Error: &pluginpb.CallError{Message: "the call request does not decode: " + err.Error()}})
	}
	return reply(call(uint64(id), &req))
}

//export ecsimGoDestroy
func ecsimGoDestroy(id C.uint64_t) (out C.EcsimOwnedBytes) {
	defer func() {
		if recovered := recover(); recovered != nil {
			out = reply(&pluginpb.DestroyReply{Error: fmt.Sprintf("panicked while destroying: %v", recovered)})
		}
	}()
	destroy(uint64(id))
	return reply(&pluginpb.DestroyReply{})
}

//export ecsimGoFree
func ecsimGoFree(bytes C.EcsimOwnedBytes) {
	C.free(unsafe.Pointer(bytes.ptr))
}
