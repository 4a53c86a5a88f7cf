// The client x feature matrix for sarama (see ../README.md and ../features.py), as Debian ships
// it (golang-github-shopify-sarama-dev 1.22.1), built with Debian's Go without a network:
// GO111MODULE=off GOPATH=/usr/share/gocode go build.
//
// sarama's defaults but for what a feature needs. Its default protocol version (0.8.2) writes
// the old message formats, which Kafka 4 and this broker refuse: the first feature checks that
// the refusal is clear; every other sets config.Version, as sarama's documentation asks.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"time"

	"github.com/Shopify/sarama"
)

const count = 10

var bootstrap = []string{os.Getenv("ECSIM_BOOTSTRAP")}
var baseTime = time.Unix(1750000000, 0)

// The features to try (comma-separated ECSIM_FEATURES), all when unset.
var only = os.Getenv("ECSIM_FEATURES")

func wanted(feature string) bool {
	if only == "" {
		return true
	}
	for _, f := range strings.Split(only, ",") {
		if f == feature {
			return true
		}
	}
	return false
}

func say(feature string, err error, detail string) {
	line := map[string]interface{}{"feature": feature, "ok": err == nil, "detail": detail}
	if err != nil {
		line["detail"] = err.Error()
	}
	out, _ := json.Marshal(line)
	fmt.Println(string(out))
}

func fresh(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, rand.Uint32())
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.Producer.Return.Successes = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	return c
}

func produce(topic string, c *sarama.Config) error {
	// Created first: not every broker creates topics on demand (tansu does not).
	if c.Version.IsAtLeast(sarama.V0_10_1_0) {
		if admin, err := sarama.NewClusterAdmin(bootstrap, c); err == nil {
			_ = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
			admin.Close()
		}
	}
	var headers []sarama.RecordHeader
	if c.Version.IsAtLeast(sarama.V0_11_0_0) {
		headers = []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("x")}}
	}
	producer, err := sarama.NewSyncProducer(bootstrap, c)
	if err != nil {
		return err
	}
	defer producer.Close()
	for i := 0; i < count; i++ {
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic:     topic,
			Key:       sarama.StringEncoder(fmt.Sprintf("env-%d", i)),
			Value:     sarama.StringEncoder(fmt.Sprintf("value-%d", i)),
			Headers:   headers,
			Timestamp: baseTime.Add(time.Duration(i) * time.Second),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// handler reads until it has `want` messages, marking each (so that they are committed).
type handler struct {
	want     int
	mark     int64
	messages []*sarama.ConsumerMessage
	done     chan struct{}
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for message := range claim.Messages() {
		h.messages = append(h.messages, message)
		if len(h.messages) == h.want {
			if h.mark >= 0 {
				session.MarkOffset(message.Topic, message.Partition, h.mark, "")
			}
			close(h.done)
			return nil
		}
	}
	return nil
}

// consume reads `want` messages in group `group`; with mark >= 0, commits that offset.
func consume(topic, group string, want int, mark int64) ([]*sarama.ConsumerMessage, error) {
	consumerGroup, err := sarama.NewConsumerGroup(bootstrap, group, config())
	if err != nil {
		return nil, err
	}
	h := &handler{want: want, mark: mark, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if err := consumerGroup.Consume(ctx, []string{topic}, h); err != nil {
				return
			}
		}
	}()
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
	}
	cancel()
	// Close commits what was marked (OffsetCommit v1, whatever config.Version says).
	if err := consumerGroup.Close(); err != nil {
		return nil, err
	}
	if len(h.messages) < want {
		return h.messages, fmt.Errorf("%d of %d messages", len(h.messages), want)
	}
	return h.messages, nil
}

func expect(messages []*sarama.ConsumerMessage) error {
	for i, m := range messages {
		want := fmt.Sprintf("%d env-%d value-%d %d h=x", i, i, i, baseTime.Add(time.Duration(i)*time.Second).UnixNano()/1e6)
		got := fmt.Sprintf("%d %s %s %d", m.Offset, m.Key, m.Value, m.Timestamp.UnixNano()/1e6)
		if len(m.Headers) == 1 {
			got += fmt.Sprintf(" %s=%s", m.Headers[0].Key, m.Headers[0].Value)
		}
		if got != want {
			return fmt.Errorf("got %q, want %q", got, want)
		}
	}
	return nil
}

func main() {
	rand.Seed(time.Now().UnixNano())
	topic := fresh("features")

	run := func(feature string, f func()) {
		if wanted(feature) {
			f()
		}
	}
	run("default version refused", func() {
		c := sarama.NewConfig()
		c.Producer.Return.Successes = true
		c.Producer.Retry.Max = 0
		err := produce(fresh("old"), c)
		if err == nil {
			say("default version refused", fmt.Errorf("the old message format was accepted"), "")
		} else if strings.Contains(err.Error(), "message format") {
			say("default version refused", nil, err.Error())
		} else {
			say("default version refused", err, "")
		}
	})
	say("produce", produce(topic, config()), "")
	run("consume in a group", func() {
		messages, err := consume(topic, fresh("g"), count, -1)
		if err == nil {
			err = expect(messages)
		}
		say("consume in a group", err, "")
	})
	run("commit and resume", func() {
		group := fresh("g")
		_, err := consume(topic, group, count, 6)
		if err == nil {
			var messages []*sarama.ConsumerMessage
			messages, err = consume(topic, group, 1, -1)
			if err == nil && messages[0].Offset != 6 {
				err = fmt.Errorf("resumed at %d", messages[0].Offset)
			}
		}
		say("commit and resume", err, "OffsetCommit v1")
	})
	run("seek by time", func() {
		client, err := sarama.NewClient(bootstrap, config())
		if err == nil {
			defer client.Close()
			var offset int64
			offset, err = client.GetOffset(topic, 0, baseTime.Add(7*time.Second).UnixNano()/1e6)
			if err == nil && offset != 7 {
				err = fmt.Errorf("offset %d", offset)
			}
		}
		say("seek by time", err, "")
	})
	run("compression", func() {
		var failed error
		for _, codec := range []sarama.CompressionCodec{sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD} {
			c := config()
			c.Producer.Compression = codec
			t := fresh("c")
			err := produce(t, c)
			if err == nil {
				var messages []*sarama.ConsumerMessage
				messages, err = consume(t, fresh("g"), count, -1)
				if err == nil {
					err = expect(messages)
				}
			}
			if err != nil {
				failed = fmt.Errorf("%v: %v", codec, err)
				break
			}
		}
		say("compression", failed, "gzip, snappy, lz4, zstd")
	})
	run("replication factor refused", func() {
		admin, err := sarama.NewClusterAdmin(bootstrap, config())
		if err == nil {
			defer admin.Close()
			err = admin.CreateTopic(fresh("r"), &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 3}, false)
			if err == nil {
				err = fmt.Errorf("a replication factor of 3 was accepted")
			} else if strings.Contains(err.Error(), "eplication") {
				say("replication factor refused", nil, err.Error())
				return
			}
		}
		say("replication factor refused", err, "")
	})
}
