import java.time.Duration;
import java.util.*;
import java.util.function.Consumer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.processor.api.*;
import org.apache.kafka.streams.state.*;

// Prints Topology.describe() of Kafka Streams for each program the Go test
// dsl/describe_test.go builds, to testdata/kafka/<name>.txt.
public class Describe {
  static Map<String, Consumer<StreamsBuilder>> cases = new LinkedHashMap<>();
  static void c(String name, Consumer<StreamsBuilder> f) { cases.put(name, f); }

  public static void main(String[] args) throws Exception {
    c("stateless", b -> {
      KStream<String, String> s = b.stream("in");
      s.filter((k, v) -> true).filterNot((k, v) -> false).map(KeyValue::pair).mapValues(v -> v)
        .flatMap((k, v) -> List.of(KeyValue.pair(k, v))).flatMapValues(v -> List.of(v))
        .selectKey((k, v) -> k).peek((k, v) -> {}).to("out");
      s.foreach((k, v) -> {});
    });
    c("stateless_named", b -> {
      KStream<String, String> s = b.stream("in", Consumed.as("source"));
      s.filter((k, v) -> true, Named.as("filter")).filterNot((k, v) -> false, Named.as("filterNot"))
        .map(KeyValue::pair, Named.as("map")).mapValues(v -> v, Named.as("mapValues"))
        .flatMap((k, v) -> List.of(KeyValue.pair(k, v)), Named.as("flatMap"))
        .flatMapValues(v -> List.of(v), Named.as("flatMapValues"))
        .selectKey((k, v) -> k, Named.as("selectKey")).peek((k, v) -> {}, Named.as("peek"))
        .to("out", Produced.as("sink"));
      s.foreach((k, v) -> {}, Named.as("foreach"));
      s.mapValues(v -> v).to("out");
    });
    c("two_sources_merge", b -> {
      KStream<String, String> a = b.stream("in");
      KStream<String, String> o = b.stream(List.of("in2", "in3"));
      a.merge(o).to("out");
      a.merge(o, Named.as("merge")).to("out");
    });
    c("process", b -> {
      b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("st"), null, null));
      KStream<String, String> s = b.stream("in");
      ProcessorSupplier<String, String, String, String> p = () -> new Processor<String, String, String, String>() {
        public void process(org.apache.kafka.streams.processor.api.Record<String, String> r) {}
      };
      s.process(p).to("out");
      s.process(p, Named.as("proc"), "st").to("out");
    });
    c("split", b -> {
      KStream<String, String> s = b.stream("in");
      s.split().branch((k, v) -> true, Branched.withConsumer(x -> x.to("a"), "a"))
        .branch((k, v) -> true, Branched.withConsumer(x -> x.to("b")))
        .defaultBranch(Branched.withConsumer(x -> x.to("c")));
    });
    c("split_named", b -> {
      KStream<String, String> s = b.stream("in");
      s.split(Named.as("split-")).branch((k, v) -> true, Branched.withConsumer(x -> x.to("a"), "a"))
        .branch((k, v) -> true, Branched.withConsumer(x -> x.to("b")))
        .defaultBranch(Branched.withConsumer(x -> x.to("c"), "default"));
    });
    c("repartition", b -> {
      KStream<String, String> s = b.stream("in");
      s.repartition().to("out");
      s.repartition(Repartitioned.<String, String>as("r").withNumberOfPartitions(3)).to("out");
    });
    c("count", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().count().toStream().to("out");
    });
    c("count_materialized", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().count(Materialized.as("counts")).toStream().to("out");
    });
    c("count_named", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().count(Named.as("cnt")).toStream().to("out");
    });
    c("count_named_materialized", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().count(Named.as("cnt"), Materialized.as("counts")).toStream().to("out");
    });
    c("reduce_aggregate", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().reduce((a, v) -> v).toStream().to("out");
      s.groupByKey().aggregate(() -> "", (k, v, a) -> a, Materialized.as("agg")).toStream().to("out");
    });
    c("rekey_count", b -> {
      KStream<String, String> s = b.stream("in");
      s.selectKey((k, v) -> v).groupByKey().count().toStream().to("out");
    });
    c("rekey_count_grouped", b -> {
      KStream<String, String> s = b.stream("in");
      s.selectKey((k, v) -> v).groupByKey(Grouped.as("g")).count().toStream().to("out");
    });
    c("rekey_count_materialized", b -> {
      KStream<String, String> s = b.stream("in");
      s.selectKey((k, v) -> v).groupByKey().count(Materialized.as("counts")).toStream().to("out");
    });
    c("groupby_reduce_aggregate", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupBy((k, v) -> v, Grouped.as("g")).reduce((a, v) -> v).toStream().to("out");
      s.groupBy((k, v) -> v).aggregate(() -> "", (k, v, a) -> a, Named.as("agg"), Materialized.as("aggs")).toStream().to("out");
    });
    c("table_source", b -> {
      b.table("t2", Materialized.as("s")).toStream().to("out");
      b.table("t3", Consumed.<String, String>as("src").withOffsetResetPolicy(AutoOffsetReset.earliest()), Materialized.as("s3")).toStream(Named.as("ts")).to("out");
    });
    c("to_table", b -> {
      KStream<String, String> s = b.stream("in");
      s.toTable(Materialized.as("first")).toStream().to("out");
      s.toTable(Named.as("tt"), Materialized.as("tts")).toStream().to("out");
    });
    // Tables without Materialized: no store unless a join or a regrouping
    // needs one (TopologyTest kTableNonMaterialized*).
    c("table_unmaterialized", b -> {
      b.table("t").toStream().to("out");
      KStream<String, String> s = b.stream("in");
      s.toTable().toStream().to("out");
      s.toTable(Named.as("tt")).toStream().to("out");
      b.<String, String>table("t2").filter((k, v) -> true).mapValues(v -> v).toStream().to("out");
    });
    c("table_join_materializes", b -> {
      KTable<String, String> t = b.table("t");
      b.<String, String>stream("in").join(t, (v, tv) -> v).to("out");
      KTable<String, String> u = b.<String, String>stream("in2").toTable();
      b.<String, String>stream("in3").join(u.filter((k, v) -> true), (v, tv) -> v).to("out");
    });
    c("table_ops", b -> {
      KTable<String, String> t = b.table("t", Materialized.as("s"));
      t.filter((k, v) -> true).filterNot((k, v) -> false).mapValues(v -> v).toStream().to("out");
      t.filter((k, v) -> true, Named.as("f")).mapValues(v -> v, Named.as("mv")).toStream(Named.as("ts")).to("out");
    });
    c("table_groupby", b -> {
      KTable<String, String> t = b.table("t");
      t.groupBy(KeyValue::pair).count().toStream().to("out");
    });
    c("table_groupby_named", b -> {
      KTable<String, String> t = b.table("t");
      t.groupBy(KeyValue::pair, Grouped.as("g")).count(Named.as("cnt")).toStream().to("out");
      t.groupBy(KeyValue::pair).reduce((a, v) -> v, (a, v) -> a, Materialized.as("r")).toStream().to("out");
      t.groupBy(KeyValue::pair).aggregate(() -> "", (k, v, a) -> a, (k, v, a) -> a).toStream().to("out");
    });
    c("windowed", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count().toStream().to("out");
      s.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).reduce((a, v) -> v, Materialized.as("w")).toStream().to("out");
    });
    c("suppress", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count()
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream().to("out");
      s.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count()
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("sup")).toStream().to("out");
    });
    c("session", b -> {
      KStream<String, String> s = b.stream("in");
      s.groupByKey().windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count().toStream().to("out");
      s.selectKey((k, v) -> v).groupByKey().windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
        .aggregate(() -> "", (k, v, a) -> a, (k, a1, a2) -> a1, Materialized.as("sess")).toStream().to("out");
    });
    c("join", b -> {
      KStream<String, String> s = b.stream("in");
      KTable<String, String> t = b.table("t");
      s.join(t, (v, tv) -> v).to("out");
      s.leftJoin(t, (v, tv) -> v, Joined.as("lj")).to("out");
    });
    c("join_rekeyed", b -> {
      KStream<String, String> s = b.stream("in");
      KTable<String, String> t = b.table("t");
      s.selectKey((k, v) -> v).join(t, (v, tv) -> v).to("out");
    });
    c("join_rekeyed_named", b -> {
      KStream<String, String> s = b.stream("in");
      KTable<String, String> t = b.table("t");
      s.selectKey((k, v) -> v).leftJoin(t, (v, tv) -> v, Joined.as("lj")).to("out");
    });
    c("rekeyed_shared", b -> {
      KStream<String, String> s = b.stream("in");
      KTable<String, String> t = b.table("t");
      KStream<String, String> r = s.selectKey((k, v) -> v);
      r.join(t, (v, tv) -> v).to("out");
      r.leftJoin(t, (v, tv) -> v).to("out");
      r.groupByKey().count().toStream().to("out");
    });
    // TopologyTest's *ShouldPreserveTopologyStructure cases.
    c("kGroupedStreamZeroArgCount", b -> b.stream("input-topic").groupByKey().count());
    c("kGroupedStreamNamedMaterializedCount", b -> b.stream("input-topic").groupByKey()
      .count(Materialized.<Object, Long, KeyValueStore<Bytes, byte[]>>as("count-store").withStoreType(Materialized.StoreType.IN_MEMORY)));
    c("timeWindowZeroArgCount", b -> b.stream("input-topic").groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(1))).count());
    c("timeWindowNamedMaterializedCount", b -> b.stream("input-topic").groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(1)))
      .count(Materialized.<Object, Long, WindowStore<Bytes, byte[]>>as("count-store").withStoreType(Materialized.StoreType.IN_MEMORY)));
    c("sessionWindowZeroArgCount", b -> b.stream("input-topic").groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(1))).count());
    c("sessionWindowNamedMaterializedCount", b -> b.stream("input-topic").groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(1)))
      .count(Materialized.<Object, Long, SessionStore<Bytes, byte[]>>as("count-store").withStoreType(Materialized.StoreType.IN_MEMORY)));
    c("tableZeroArgCount", b -> b.table("input-topic").groupBy((k, v) -> null).count());
    c("tableNamedMaterializedCount", b -> b.table("input-topic").groupBy((k, v) -> null)
      .count(Materialized.<Object, Long, KeyValueStore<Bytes, byte[]>>as("count-store").withStoreType(Materialized.StoreType.IN_MEMORY)));
    c("kGroupedStreamAnonymousMaterializedCount", b -> b.stream("input-topic").groupByKey()
      .count(Materialized.<Object, Long, KeyValueStore<Bytes, byte[]>>with(null, Serdes.Long()).withStoreType(Materialized.StoreType.ROCKS_DB)));
    c("timeWindowAnonymousMaterializedCount", b -> b.stream("input-topic").groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(1)))
      .count(Materialized.<Object, Long, WindowStore<Bytes, byte[]>>with(null, Serdes.Long()).withStoreType(Materialized.StoreType.ROCKS_DB)));
    c("sessionWindowAnonymousMaterializedCount", b -> b.stream("input-topic").groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(1)))
      .count(Materialized.<Object, Long, SessionStore<Bytes, byte[]>>with(null, Serdes.Long()).withStoreType(Materialized.StoreType.ROCKS_DB)));
    c("tableAnonymousMaterializedCount", b -> b.table("input-topic").groupBy((k, v) -> null)
      .count(Materialized.<Object, Long, KeyValueStore<Bytes, byte[]>>with(null, Serdes.Long()).withStoreType(Materialized.StoreType.ROCKS_DB)));
    c("named_grouping_twice", b -> {
      KGroupedStream<String, String> g = b.<String, String>stream("in").selectKey((k, v) -> v).groupByKey(Grouped.as("g"));
      g.count().toStream().to("out");
      g.reduce((a, v) -> v).toStream().to("out");
    });
    c("named_table_grouping_twice", b -> {
      KGroupedTable<String, String> g = b.<String, String>table("t").groupBy(KeyValue::pair, Grouped.as("g"));
      g.count().toStream().to("out");
      g.reduce((a, v) -> v, (a, v) -> a).toStream().to("out");
    });
    // The programs of dsl_test.go's TestDescribeWordCount,
    // TestDescribeTwoRepartitions and TestDescribeTableReaggregation.
    c("wordcount", b -> b.<String, String>stream("streams-plaintext-input")
      .flatMapValues(v -> List.of(v.split(" "))).groupBy((k, w) -> w).count(Materialized.as("counts"))
      .toStream().to("streams-wordcount-output"));
    c("two_repartitions", b -> {
      KTable<String, Long> perCustomer = b.<String, String>stream("orders").selectKey((k, c) -> c).groupByKey().count();
      perCustomer.toStream().selectKey((k, n) -> Long.toString(n)).groupByKey().count().toStream().to("customers-per-count");
    });
    c("table_reaggregation", b -> b.<String, String>table("user-regions").groupBy((u, r) -> KeyValue.pair(r, u)).count()
      .toStream().to("users-per-region"));
    // Larger sub-topologies: fan-out of different depths, merges, more
    // than 24 nodes (a HashMap of 64 buckets).
    c("fanout", b -> {
      KStream<String, String> s = b.stream("in");
      s.filter((k, v) -> true).to("o1");
      s.mapValues(v -> v).filter((k, v) -> true).mapValues(v -> v).to("o2");
      s.peek((k, v) -> {}).to("o3");
      KStream<String, String> m = s.selectKey((k, v) -> v);
      m.merge(s.mapValues(v -> v)).merge(s.filterNot((k, v) -> false)).groupByKey().count().toStream().to("o4");
      s.flatMapValues(v -> List.of(v)).to("o5");
      s.mapValues(v -> v).mapValues(v -> v).mapValues(v -> v).mapValues(v -> v).to("o6");
    });
    c("wide", b -> {
      KStream<String, String> s = b.stream(List.of("a", "b", "c", "d", "e"));
      for (int i = 0; i < 9; i++) {
        s.filter((k, v) -> true).mapValues(v -> v).to("out" + i);
      }
      s.split().branch((k, v) -> true).branch((k, v) -> true).branch((k, v) -> true).branch((k, v) -> true)
        .defaultBranch();
    });
    String dir = args.length > 0 ? args[0] : ".";
    for (Map.Entry<String, Consumer<StreamsBuilder>> e : cases.entrySet()) {
      StreamsBuilder b = new StreamsBuilder();
      e.getValue().accept(b);
      String d = b.build().describe().toString();
      java.nio.file.Files.writeString(java.nio.file.Path.of(dir, e.getKey() + ".txt"), d);
    }
  }
}
