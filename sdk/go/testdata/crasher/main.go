// A Go plugin that dies on request, for ecsim's isolation tests (crates/ecsim/tests/cli.rs):
// plugin `gocrasher`, whose functions end its process in the ways a Go plugin can that the
// SDK's recover does not catch — a panic on a goroutine of its own (a client library's
// background reader, say), abort() through cgo, os.Exit — and Ok, which answers "ok".
//
// Loaded in process, each of them but Ok ends ecsim; isolated, each fails its call.
package main

// #include <stdlib.h>
import "C"

import (
	"os"
	"time"

	ecsim "ecsim.dev/sdk/go"
)

type crasher struct{}

func (crasher) GetName() string                        { return "gocrasher" }
func (crasher) GetPrettyName() string                  { return "Go crasher" }
func (crasher) GetEndpoint() string                    { return "" }
func (crasher) Init(instanceId string, _ []byte) error { return nil }

func (crasher) CallStack() map[string]ecsim.CallFunc {
	return map[string]ecsim.CallFunc{
		"Ok": func(*ecsim.Call) (string, error) { return "ok", nil },
		"PanicInGoroutine": func(*ecsim.Call) (string, error) {
			go func() { panic("the logbook connection is gone") }()
			time.Sleep(10 * time.Second)
			return "not reached", nil
		},
		"Abort": func(*ecsim.Call) (string, error) {
			C.abort()
			return "not reached", nil
		},
		"Exit": func(*ecsim.Call) (string, error) {
			os.Exit(3)
			return "not reached", nil
		},
	}
}

func init() {
	ecsim.Register(func() ecsim.Plugin { return crasher{} })
}

func main() {}
