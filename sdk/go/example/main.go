// The example plugin of plugins/example (a run logbook), written in Go with ecsim's Go SDK:
// the same name, functions, configuration, events, runtime variables, outputs and failures as
// the Rust one, so that a scenario gives the same traffic with either library
// (crates/ecsim/tests/cli.rs compares them).
//
//	GO111MODULE=off GOPATH=... go build -buildmode=c-shared -o libexample_go.so ecsim.dev/sdk/go/example
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	ecsim "ecsim.dev/sdk/go"
)

// config is the plugin's configuration: [plugin.config.example] in a scenario.
type config struct {
	Latency         string   `json:"latency"`
	RefuseDetectors []string `json:"refuse_detectors"`
}

// Example is one instance: the logbook's latency, the detectors it refuses, the runs it has
// announced.
type Example struct {
	latency       time.Duration
	refuse        []string
	runsAnnounced uint64
}

func (e *Example) GetName() string       { return "example" }
func (e *Example) GetPrettyName() string { return "Example run logbook" }
func (e *Example) GetEndpoint() string   { return "" }

func (e *Example) Init(instanceId string, raw []byte) error {
	c := config{Latency: "1s"}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&c); err != nil {
		return err
	}
	latency, err := ecsim.ParseGoDuration(c.Latency)
	if err != nil {
		return fmt.Errorf("latency %q is not a duration (write 1s, 500ms)", c.Latency)
	}
	e.latency, e.refuse = latency, c.RefuseDetectors
	return nil
}

func (e *Example) CallStack() map[string]ecsim.CallFunc {
	return map[string]ecsim.CallFunc{
		"StartOfRun": func(call *ecsim.Call) (string, error) { return e.announce(call, "start") },
		"EndOfRun":   func(call *ecsim.Call) (string, error) { return e.announce(call, "end") },
	}
}

// payload is the event payload, its keys in the Rust example's order.
type payload struct {
	RunNumber string   `json:"runNumber"`
	Detectors []string `json:"detectors"`
}

func (e *Example) announce(call *ecsim.Call, what string) (string, error) {
	failed := fmt.Sprintf("example %s call failed", call.Function())
	run, _ := call.Var("run_number")
	if run == "" || run == "0" {
		return "", &ecsim.CallError{Message: failed, Reason: "the environment has no run number"}
	}
	detectors := []string{}
	if text, ok := call.Var("detectors"); ok {
		var parsed []string
		if json.Unmarshal([]byte(text), &parsed) == nil {
			detectors = parsed
		}
	}
	body, _ := json.Marshal(payload{RunNumber: run, Detectors: detectors})
	step := "announce run " + what

	started := call.ServiceEvent(ecsim.Started, step, ecsim.Started)
	started.Payload = string(body)
	call.Publish("example", started)
	call.Elapse(e.latency) // the logbook takes its time; ecsim plays it on its clock

	for _, refused := range e.refuse {
		for _, detector := range detectors {
			if detector == refused {
				reason := "the logbook refuses runs with " + refused
				done := call.ServiceEvent(ecsim.DoneError, step, ecsim.DoneError)
				done.Payload = string(body)
				done.Error = reason
				call.Publish("example", done)
				return "", &ecsim.CallError{Message: failed, Reason: reason}
			}
		}
	}
	done := call.ServiceEvent(ecsim.DoneOk, step, ecsim.DoneOk)
	done.Payload = string(body)
	call.Publish("example", done)
	e.runsAnnounced++
	call.SetRuntimeVar(fmt.Sprintf("example_run_%s_ms", what), fmt.Sprint(call.NowMs()))
	return fmt.Sprintf("run %s %s announced (%d so far)", run, what, e.runsAnnounced), nil
}

func init() {
	ecsim.Register(func() ecsim.Plugin { return &Example{} })
}

// main is required of a c-shared build, and never runs.
func main() {}
