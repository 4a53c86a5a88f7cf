// Decodes AliECS's Kafka messages in Java, with the classes protoc generates from the .proto
// files `ecsim proto --out DIR` writes, and protobuf-java-util's JsonFormat:
//
//     protoc -I DIR --java_out=gen protos/common.proto protos/events.proto protos/kafka.proto
//     javac -cp protobuf.jar:protobuf-util.jar -d classes gen/**/*.java Decode.java
//     java -cp classes:protobuf.jar:protobuf-util.jar:gson.jar:guava.jar Decode < recording.jsonl
//
// reads records as `ecsim record` writes them (topic, value_hex) and prints each message as
// JSON, with the field names of the .proto files. In a consumer, decode(topic, value) is the
// part to take: value is the record's bytes as the Kafka client gives them.

import ch.cern.alice.o2.control.events.Events;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import kafka.Kafka;

public class Decode {
    private static final JsonFormat.Printer JSON =
            JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

    /** The type AliECS writes to a topic, read from the record's bytes. */
    static Message parse(String topic, byte[] value) throws InvalidProtocolBufferException {
        if (topic.startsWith("aliecs.env_state.")
                || topic.startsWith("aliecs.env_leave_state.")
                || topic.equals("aliecs.before_start_activity")
                || topic.equals("aliecs.after_start_activity")
                || topic.equals("aliecs.start_activity")) {
            return Kafka.NewStateNotification.parseFrom(value);
        }
        if (topic.startsWith("aliecs.env_list.")) {
            return Kafka.ActiveRunsList.parseFrom(value);
        }
        return Events.Event.parseFrom(value);
    }

    /** A record's value, decoded, as proto3 JSON with the .proto's field names. */
    static String decode(String topic, byte[] value) throws InvalidProtocolBufferException {
        return JSON.print(parse(topic, value));
    }

    public static void main(String[] args) throws Exception {
        BufferedReader lines =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            if (line.isBlank()) {
                continue;
            }
            JsonObject record = JsonParser.parseString(line).getAsJsonObject();
            String topic = record.get("topic").getAsString();
            byte[] value = HexFormat.of().parseHex(record.get("value_hex").getAsString());
            JsonObject out = new JsonObject();
            out.addProperty("topic", topic);
            out.add("value", JsonParser.parseString(decode(topic, value)));
            System.out.println(out);
        }
    }
}
