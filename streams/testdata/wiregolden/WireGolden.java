// WireGolden runs a Kafka Streams 4.4.0 application on a broker (args[0])
// and prints what it wrote to its changelogs: changelogs.txt in this
// directory. Streams' TestChangelogsMatchJavaKafkaStreams runs the same
// topology and input on Sluice and compares. Run it with kafka-streams and
// kafka-clients 4.4.0 (and their runtime dependencies) on the class path,
// against an empty broker.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.processor.api.*;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.*;

public class WireGolden {
  static String hex(byte[] b) { if (b == null) return "null"; StringBuilder s = new StringBuilder(); for (byte x : b) s.append(String.format("%02x", x)); return s.toString(); }
  public static void main(String[] a) throws Exception {
    String bs = a[0], app = "wire-golden-4";
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
    p.put(StreamsConfig.STATE_DIR_CONFIG, "/tmp/wiregold/state");
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    try (Admin adm = Admin.create(Map.of("bootstrap.servers", bs))) {
      adm.createTopics(List.of(new NewTopic("wire-in-4", 1, (short) 1))).all().get();
    }
    StreamsBuilder b = new StreamsBuilder();
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("plain-kv"), Serdes.String(), Serdes.String()));
    b.addStateStore(Stores.windowStoreBuilder(Stores.persistentWindowStore("plain-win", Duration.ofHours(1), Duration.ofSeconds(10), false), Serdes.String(), Serdes.String()));
    KStream<String, String> in = b.stream("wire-in-4", Consumed.with(Serdes.String(), Serdes.String()));
    in.process(() -> new Processor<String, String, Void, Void>() {
      KeyValueStore<String, String> kv; WindowStore<String, String> w;
      public void init(ProcessorContext<Void, Void> c) { kv = c.getStateStore("plain-kv"); w = c.getStateStore("plain-win"); }
      public void process(Record<String, String> r) {
        if (r.value().equals("del")) kv.delete(r.key()); else kv.put(r.key(), r.value());
        w.put(r.key(), r.value(), r.timestamp() / 10000 * 10000);
      }
    }, "plain-kv", "plain-win");
    KGroupedStream<String, String> g = in.groupByKey(Grouped.with(Serdes.String(), Serdes.String()));
    g.count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("kv-count").withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()).withCachingDisabled());
    g.count(Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("mem-count")).withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()).withCachingDisabled());
    g.windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10))).count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("win-count").withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()).withCachingDisabled());
    g.windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofSeconds(5))).count(Materialized.<String, Long, SessionStore<Bytes, byte[]>>as("sess-count").withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()).withCachingDisabled());
    KafkaStreams ks = new KafkaStreams(b.build(), p);
    ks.setUncaughtExceptionHandler(e -> { e.printStackTrace(); return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT; });
    ks.setStateListener((n, o) -> System.err.println("state " + o + " -> " + n));
    ks.start();
    long base = System.currentTimeMillis() / 100000 * 100000;
    System.out.println("base " + base);
    Object[][] input = {{"a", "1", 1000L}, {"b", "2", 2000L}, {"a", "3", 3000L}, {"b", "del", 4000L}, {"z\u0000z", "5", 5000L}, {"a", "6", 12000L}, {"a", "7", 14000L}};
    try (Producer<String, String> pr = new KafkaProducer<>(Map.of("bootstrap.servers", bs), new StringSerializer(), new StringSerializer())) {
      for (Object[] r : input) pr.send(new ProducerRecord<>("wire-in-4", 0, base + (Long) r[2], (String) r[0], (String) r[1])).get();
    }
    Thread.sleep(40000);
    ks.close(Duration.ofSeconds(30));
    String[] stores = {"plain-kv", "plain-win", "kv-count", "mem-count", "win-count", "sess-count"};
    Map<String, Object> cc = new HashMap<>(Map.of("bootstrap.servers", bs, "group.id", "wire-dump", "auto.offset.reset", "earliest", "isolation.level", "read_committed"));
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cc, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      for (String s : stores) {
        String t = app + "-" + s + "-changelog";
        org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(t, 0);
        c.assign(List.of(tp));
        c.seekToBeginning(List.of(tp));
        long end = c.endOffsets(List.of(tp)).get(tp);
        while (c.position(tp) < end) {
          for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofSeconds(1))) {
            StringBuilder h = new StringBuilder();
            for (Header x : r.headers()) h.append(x.key()).append("=").append(hex(x.value())).append(";");
            System.out.println(s + " " + hex(r.key()) + " " + hex(r.value()) + " " + r.timestamp() + " [" + h + "]");
          }
        }
      }
    }
  }
}
