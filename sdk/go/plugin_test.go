package ecsim

import (
	"testing"

	"ecsim.dev/sdk/go/pb/aliecs"
	pluginpb "ecsim.dev/sdk/go/pb/plugin"
)

type panicky struct{}

func (panicky) GetName() string                        { return "panicky" }
func (panicky) GetPrettyName() string                  { return "Panics" }
func (panicky) GetEndpoint() string                    { return "" }
func (panicky) Init(instanceId string, _ []byte) error { return nil }
func (panicky) CallStack() map[string]CallFunc {
	return map[string]CallFunc{
		"Boom": func(*Call) (string, error) { panic("out of range") },
		"Faulted": func(c *Call) (string, error) {
			c.FaultFired(12)
			c.FaultFired(12)
			panic("the fault at line 12 made it panic")
		},
		"Fine": func(c *Call) (string, error) {
			c.Elapse(1500 * 1e6)
			return c.Vars()["__call_trigger"], nil
		},
	}
}

func TestAPanicFailsTheCallAndTheInstanceCarriesOn(t *testing.T) {
	Register(func() Plugin { return panicky{} })
	id, err := create(&pluginpb.CreateRequest{Plugin: "panicky", InstanceId: "i"})
	if err != nil {
		t.Fatal(err)
	}
	reply := call(id, &pluginpb.CallRequest{Function: "Boom"})
	if reply.Error == nil || reply.Error.Message != "panicky.Boom panicked: out of range" {
		t.Fatalf("a panic is a failed call: %v", reply)
	}
	reply = call(id, &pluginpb.CallRequest{Function: "Fine", Traits: &aliecs.Traits{Trigger: "after_START_ACTIVITY"}})
	if reply.Error != nil || reply.Output != "after_START_ACTIVITY" || reply.DurationMs != 1500 {
		t.Fatalf("the next call works, with the __call_* variables: %v", reply)
	}
	reply = call(id, &pluginpb.CallRequest{Function: "Faulted"})
	if !reply.Error.Panicked || len(reply.FaultsFired) != 1 || reply.FaultsFired[0] != 12 {
		t.Fatalf("a fault that fired is reported once, even when it panics: %v", reply)
	}
	reply = call(id, &pluginpb.CallRequest{Function: "Missing"})
	if reply.Error == nil || reply.Error.Message != "panicky has no function Missing" {
		t.Fatalf("%v", reply)
	}
	if _, err := create(&pluginpb.CreateRequest{Plugin: "other"}); err == nil {
		t.Fatal("an unknown plugin is refused")
	}
	if m := manifest(); len(m.Plugins) != 1 || m.Plugins[0].Functions[0] != "Boom" {
		t.Fatalf("%v", m)
	}
}
