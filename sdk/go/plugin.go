// Package ecsim is the Go SDK of ecsim's plugin interface: an integration plugin written as
// AliECS writes its own (core/integration/plugin.go) — a name, a pretty name, an Init, and a
// call stack of functions by AliECS's call names — built with `go build -buildmode=c-shared`
// into a library ecsim loads like any other (`ecsim run --plugin lib.so`).
//
// What crosses into ecsim is the C ABI of ecsim_plugin.h and protobuf bytes
// (proto/ecsim/plugin/v1/plugin.proto, generated into pb/); this package does the crossing:
// it lists the registered plugins, creates their instances, decodes each call, runs the
// function, recovers a panic into a failed call, and encodes the reply.
package ecsim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"ecsim.dev/sdk/go/pb/aliecs"
	pluginpb "ecsim.dev/sdk/go/pb/plugin"
)

// Plugin is one integration plugin, as AliECS's integration.Plugin.
type Plugin interface {
	// GetName is the name calls use: dcs.StartOfRun() calls plugin "dcs".
	GetName() string
	GetPrettyName() string
	GetEndpoint() string
	// Init prepares an instance: its id, and the configuration the scenario gives the plugin
	// ([plugin.config.NAME], as JSON; "{}" when none). An error refuses the instance.
	Init(instanceId string, config []byte) error
	// CallStack is the plugin's functions by AliECS's call names: "StartOfRun" for
	// dcs.StartOfRun().
	CallStack() map[string]CallFunc
}

// CallFunc is one function of a plugin: its output, or why it failed (a *CallError to give a
// reason).
type CallFunc func(call *Call) (string, error)

// CallError is a failed call: AliECS's __call_error, and __call_error_reason when Reason is set.
type CallError struct {
	Message string
	Reason  string
}

func (e *CallError) Error() string {
	if e.Reason == "" {
		return e.Message
	}
	return e.Message + ": " + e.Reason
}

// OpStatus is an integrated-service event's status (events.proto's OpStatus).
type OpStatus = aliecs.OpStatus

const (
	Started   = aliecs.OpStatus_STARTED
	Ongoing   = aliecs.OpStatus_ONGOING
	DoneOk    = aliecs.OpStatus_DONE_OK
	DoneError = aliecs.OpStatus_DONE_ERROR
)

var (
	registered []func() Plugin
	registerMu sync.Mutex
)

// Register lists the plugins the library offers; call it from an init function of the
// plugin's main package (a c-shared library runs them when it is loaded).
func Register(factories ...func() Plugin) {
	registerMu.Lock()
	defer registerMu.Unlock()
	registered = append(registered, factories...)
}

// Call is one workflow call: its request, and what the function makes of it (events,
// runtime variables, simulated time taken).
type Call struct {
	request *pluginpb.CallRequest
	vars    map[string]string
	reply   pluginpb.CallReply
	elapsed time.Duration
}

func newCall(request *pluginpb.CallRequest) *Call {
	vars := make(map[string]string, len(request.Vars)+8)
	for k, v := range request.Vars {
		vars[k] = v
	}
	// AliECS's call variables, as the Rust SDK adds them.
	vars["environment_id"] = request.EnvironmentId
	vars["__call_func"] = request.Func
	vars["__call_rolepath"] = request.RolePath
	if t := request.Traits; t != nil {
		vars["__call_trigger"] = t.Trigger
		vars["__call_await"] = t.Await
		vars["__call_timeout"] = t.Timeout
		vars["__call_critical"] = strconv.FormatBool(t.Critical)
	}
	return &Call{request: request, vars: vars}
}

// Function is the called function's name ("StartOfRun").
func (c *Call) Function() string { return c.request.Function }

// Func is the call as the workflow writes it ("dcs.StartOfRun()").
func (c *Call) Func() string { return c.request.Func }

// RolePath is the calling role's path.
func (c *Call) RolePath() string { return c.request.RolePath }

// EnvironmentId is the environment's id.
func (c *Call) EnvironmentId() string { return c.request.EnvironmentId }

// Trigger is the hook moment ("before_START_ACTIVITY+100").
func (c *Call) Trigger() string { return c.request.GetTraits().GetTrigger() }

// Timeout is the call's timeout: ecsim fails a call that takes longer.
func (c *Call) Timeout() time.Duration { return time.Duration(c.request.TimeoutMs) * time.Millisecond }

// Var is one of the environment's variables, or an AliECS call variable (__call_*).
func (c *Call) Var(name string) (string, bool) {
	v, ok := c.vars[name]
	return v, ok
}

// Vars is every variable the call sees.
func (c *Call) Vars() map[string]string { return c.vars }

// NowMs is the simulated instant, in ms since the Unix epoch: the call's start plus what it
// has taken so far.
func (c *Call) NowMs() int64 { return c.request.NowMs + c.elapsed.Milliseconds() }

// Elapse lets simulated time pass inside the call (waiting for a service).
func (c *Call) Elapse(d time.Duration) { c.elapsed += d }

// ServiceEvent is an integrated-service event of this call, as AliECS's plugins fill it:
// name the role path, operationName the call, environmentId the environment.
func (c *Call) ServiceEvent(status OpStatus, step string, stepStatus OpStatus) *aliecs.Ev_IntegratedServiceEvent {
	return &aliecs.Ev_IntegratedServiceEvent{
		Name:                c.request.RolePath,
		OperationName:       c.request.Func,
		OperationStatus:     status,
		OperationStep:       step,
		OperationStepStatus: stepStatus,
		EnvironmentId:       c.request.EnvironmentId,
	}
}

// Publish publishes event on aliecs.integrated_service.<service>, now.
func (c *Call) Publish(service string, event *aliecs.Ev_IntegratedServiceEvent) {
	c.reply.Events = append(c.reply.Events, &pluginpb.TimedEvent{
		AfterMs: uint64(c.elapsed.Milliseconds()),
		Service: service,
		Event:   event,
	})
}

// SetRuntimeVar sets a variable on the environment when the call ends.
func (c *Call) SetRuntimeVar(key, value string) {
	if c.reply.RuntimeVars == nil {
		c.reply.RuntimeVars = map[string]string{}
	}
	c.reply.RuntimeVars[key] = value
}

// FaultFired says that the scenario fault configured with this `line` (each entry of the
// configuration's "faults" array has one) hit this call. ecsim reports every scenario fault
// that hit no call at the end of the run, and fails the run under --strict.
func (c *Call) FaultFired(line uint32) {
	for _, fired := range c.reply.FaultsFired {
		if fired == line {
			return
		}
	}
	c.reply.FaultsFired = append(c.reply.FaultsFired, line)
}

// ParseGoDuration reads a duration as AliECS's configuration writes it ("1s", "500ms").
func ParseGoDuration(text string) (time.Duration, error) { return time.ParseDuration(text) }

// finish is the reply: what the call did, how long it took, how it ended.
func (c *Call) finish(output string, err error) *pluginpb.CallReply {
	reply := &c.reply
	reply.DurationMs = uint64(c.elapsed.Milliseconds())
	if err != nil {
		failed := &pluginpb.CallError{Message: err.Error()}
		if callError, ok := err.(*CallError); ok {
			failed = &pluginpb.CallError{Message: callError.Message, Reason: callError.Reason}
		}
		reply.Error = failed
	} else {
		reply.Output = output
	}
	return reply
}

// instance is a created plugin and its functions.
type instance struct {
	plugin Plugin
	calls  map[string]CallFunc
}

var (
	instances  = map[uint64]*instance{}
	instanceMu sync.Mutex
	nextId     uint64 = 1
)

func manifest() *pluginpb.Manifest {
	registerMu.Lock()
	defer registerMu.Unlock()
	m := &pluginpb.Manifest{SdkVersion: "0.1.0"}
	for _, factory := range registered {
		p := factory()
		functions := make([]string, 0)
		for name := range p.CallStack() {
			functions = append(functions, name)
		}
		sort.Strings(functions)
		m.Plugins = append(m.Plugins, &pluginpb.PluginInfo{
			Name:       p.GetName(),
			PrettyName: p.GetPrettyName(),
			Functions:  functions,
			Endpoint:   p.GetEndpoint(),
		})
	}
	return m
}

func create(request *pluginpb.CreateRequest) (uint64, error) {
	registerMu.Lock()
	factories := append([]func() Plugin(nil), registered...)
	registerMu.Unlock()
	for _, factory := range factories {
		p := factory()
		if p.GetName() != request.Plugin {
			continue
		}
		config := []byte(request.ConfigJson)
		if len(strings.TrimSpace(request.ConfigJson)) == 0 {
			config = []byte("{}")
		}
		if !json.Valid(config) {
			return 0, fmt.Errorf("the configuration is not JSON")
		}
		if err := p.Init(request.InstanceId, config); err != nil {
			return 0, err
		}
		instanceMu.Lock()
		defer instanceMu.Unlock()
		id := nextId
		nextId++
		instances[id] = &instance{plugin: p, calls: p.CallStack()}
		return id, nil
	}
	return 0, fmt.Errorf("this library has no plugin %q", request.Plugin)
}

func call(id uint64, request *pluginpb.CallRequest) (reply *pluginpb.CallReply) {
	instanceMu.Lock()
	in := instances[id]
	instanceMu.Unlock()
	c := newCall(request)
	if in == nil {
		return c.finish("", fmt.Errorf("no instance %d", id))
	}
	fn := in.calls[request.Function]
	if fn == nil {
		return c.finish("", fmt.Errorf("%s has no function %s", in.plugin.GetName(), request.Function))
	}
	// A panic fails the call, as an error would: ecsim carries on.
	defer func() {
		if recovered := recover(); recovered != nil {
			reply = c.finish("", fmt.Errorf("%s.%s panicked: %v", in.plugin.GetName(), request.Function, recovered))
			reply.Error.Panicked = true
		}
	}()
	output, err := fn(c)
	return c.finish(output, err)
}

func destroy(id uint64) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	delete(instances, id)
}
