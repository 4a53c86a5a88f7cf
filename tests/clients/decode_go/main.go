// Decodes AliECS's Kafka messages in Go, with the types protoc-gen-go generates from the .proto
// files `ecsim proto --out DIR` writes (the package names are yours to choose):
//
//	protoc -I DIR --go_out=. --go_opt=module=example.org/decode \
//	  --go_opt=Mprotos/common.proto=example.org/decode/pb \
//	  --go_opt=Mprotos/events.proto=example.org/decode/pb \
//	  --go_opt=Mprotos/kafka.proto=example.org/decode/kafka \
//	  protos/common.proto protos/events.proto protos/kafka.proto
//	go run . < recording.jsonl
//
// reads records as `ecsim record` writes them (topic, value_hex) and prints each message as
// JSON, with the field names of the .proto files. In a consumer, decode(topic, value) is the
// part to take: value is the record's bytes as the Kafka client gives them.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"example.org/decode/kafka"
	"example.org/decode/pb"
)

// messageFor is the type AliECS writes to a topic.
func messageFor(topic string) proto.Message {
	switch {
	case strings.HasPrefix(topic, "aliecs.env_state."),
		strings.HasPrefix(topic, "aliecs.env_leave_state."),
		topic == "aliecs.before_start_activity",
		topic == "aliecs.after_start_activity",
		topic == "aliecs.start_activity":
		return &kafka.NewStateNotification{}
	case strings.HasPrefix(topic, "aliecs.env_list."):
		return &kafka.ActiveRunsList{}
	default:
		return &pb.Event{}
	}
}

// decode is a record's value, decoded, as proto3 JSON with the .proto's field names.
func decode(topic string, value []byte) (json.RawMessage, error) {
	message := messageFor(topic)
	if err := proto.Unmarshal(value, message); err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(message)
}

func main() {
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 128<<20)
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) == "" {
			continue
		}
		var record struct {
			Topic    string `json:"topic"`
			ValueHex string `json:"value_hex"`
		}
		if err := json.Unmarshal(lines.Bytes(), &record); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		value, err := hex.DecodeString(record.ValueHex)
		if err == nil {
			var decoded json.RawMessage
			if decoded, err = decode(record.Topic, value); err == nil {
				out, _ := json.Marshal(map[string]any{"topic": record.Topic, "value": decoded})
				fmt.Println(string(out))
				continue
			}
		}
		fmt.Fprintln(os.Stderr, record.Topic, err)
		os.Exit(1)
	}
}
