package dev.sluicestreams.conformance;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Java side of the conformance harness. It reads commands from stdin,
 * one per line, and answers on stdout, so that one JVM runs many cases:
 *
 * <pre>
 * start CASE APP_ID GUARANTEE MAX_TASK_IDLE_MS IN1,IN2 OUT1,OUT2 STATE_DIR DESCRIBE_FILE
 * stop APP_ID
 * </pre>
 *
 * "start" builds the case's topology (the same one conformance/cases builds
 * with Sluice's DSL), writes topology.describe() to DESCRIBE_FILE, starts it
 * and answers "started APP_ID"; "stop" closes it and answers
 * "stopped APP_ID". Errors answer "error APP_ID message". End of input closes
 * everything.
 */
public final class Main {
    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();
    static final long WINDOW_MS = 20_000, GRACE_MS = 10_000, ADVANCE_MS = 10_000;
    static final long GAP_MS = 5_000, SESSION_GRACE_MS = 5_000;

    static final Map<String, KafkaStreams> running = new HashMap<>();
    static PrintStream out;

    public static void main(String[] args) throws Exception {
        String brokers = args.length > 0 ? args[0] : "127.0.0.1:9092";
        out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split(" ");
            if (f.length == 0 || f[0].isEmpty()) continue;
            try {
                switch (f[0]) {
                    case "start": start(brokers, f); break;
                    case "stop": stop(f[1]); break;
                    default: out.println("error - unknown command " + f[0]);
                }
            } catch (Exception e) {
                out.println("error " + (f.length > 2 ? f[2] : "-") + " " + e.toString().replace('\n', ' '));
            }
        }
        for (String id : new ArrayList<>(running.keySet())) stop(id);
    }

    static void start(String brokers, String[] f) throws Exception {
        String name = f[1], appId = f[2], guarantee = f[3];
        long idle = Long.parseLong(f[4]);
        List<String> ins = Arrays.asList(f[5].split(","));
        List<String> outs = Arrays.asList(f[6].split(","));
        String stateDir = f[7], describeFile = f[8];
        StreamsBuilder b = new StreamsBuilder();
        build(name, b, ins, outs);
        Topology t = b.build();
        Files.write(Paths.get(describeFile), t.describe().toString().getBytes(StandardCharsets.UTF_8));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, guarantee.equals("at_least_once") ? 1000 : 100);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 10 * 1024 * 1024L);
        p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, idle);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Operations the Go DSL gives serdes positionally take the defaults
        // here (repartition(), join's repartition), so that no Repartitioned
        // or Joined changes the generated names.
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        KafkaStreams ks = new KafkaStreams(t, p);
        ks.setUncaughtExceptionHandler(e -> {
            out.println("error " + appId + " uncaught " + e.toString().replace('\n', ' '));
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        ks.start();
        running.put(appId, ks);
        out.println("started " + appId);
    }

    static void stop(String appId) {
        KafkaStreams ks = running.remove(appId);
        if (ks != null) {
            ks.close(Duration.ofSeconds(60));
        }
        out.println("stopped " + appId);
    }

    // The value functions, written exactly as conformance/cases writes
    // them in Go. Values are words separated by single spaces.
    static String upper(String v) { return v == null ? null : v.toUpperCase(java.util.Locale.ROOT); }

    static String firstWord(String v) {
        if (v == null) return null;
        int i = v.indexOf(' ');
        return i < 0 ? v : v.substring(0, i);
    }

    static List<String> words(String v) {
        List<String> w = new ArrayList<>();
        if (v == null) return w;
        for (String s : v.split(" ")) if (!s.isEmpty()) w.add(s);
        return w;
    }

    static String rekey(String v) { return "k" + (v.length() % 7); }

    // What a Go function over strings is given for a null value: the zero
    // value "" (processor.Record.Null marks it as null). The Java twins of
    // the stateful cases' functions take str(v), so that both sides compute
    // the same key for a null value and only what the runtimes do with the
    // null (an aggregation or a join skips it) is compared. The stateless
    // cases read bytes on the Go side, where null stays nil, and take v.
    static String str(String v) { return v == null ? "" : v; }

    static String maxString(String a, String b) { return a.compareTo(b) >= 0 ? a : b; }

    static String removeFirst(String agg, String v) {
        int i = agg.indexOf(v);
        return i < 0 ? agg : agg.substring(0, i) + agg.substring(i + v.length());
    }

    static long len(String v) { return v == null ? 0 : v.length(); }

    static Produced<Windowed<String>, Long> timeWindowed() {
        return Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW_MS), L);
    }

    static Produced<Windowed<String>, Long> sessionWindowed() {
        return Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), L);
    }

    static TimeWindows tumbling() { return TimeWindows.ofSizeAndGrace(Duration.ofMillis(WINDOW_MS), Duration.ofMillis(GRACE_MS)); }

    static TimeWindows hopping() { return tumbling().advanceBy(Duration.ofMillis(ADVANCE_MS)); }

    static SessionWindows sessions() {
        return SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(GAP_MS), Duration.ofMillis(SESSION_GRACE_MS));
    }

    static Materialized<String, Long, KeyValueStore<Bytes, byte[]>> uncachedKV() {
        return Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>with(S, L).withCachingDisabled();
    }

    static Materialized<String, String, KeyValueStore<Bytes, byte[]>> uncachedTable() {
        return Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S).withCachingDisabled();
    }

    static Materialized<String, Long, WindowStore<Bytes, byte[]>> windowStore(boolean cached) {
        Materialized<String, Long, WindowStore<Bytes, byte[]>> m = Materialized.with(S, L);
        return cached ? m : m.withCachingDisabled();
    }

    static Materialized<String, Long, WindowStore<Bytes, byte[]>> uncachedWindowStore() {
        return Materialized.<String, Long, WindowStore<Bytes, byte[]>>with(S, L).withCachingDisabled();
    }

    static Materialized<String, Long, SessionStore<Bytes, byte[]>> uncachedSessionStore() {
        return Materialized.<String, Long, SessionStore<Bytes, byte[]>>with(S, L).withCachingDisabled();
    }

    /** build adds case name's topology; the cases mirror conformance/cases/cases.go one for one. */
    static void build(String name, StreamsBuilder b, List<String> in, List<String> out) {
        Consumed<String, String> ss = Consumed.with(S, S);
        Produced<String, String> pss = Produced.with(S, S);
        Produced<String, Long> psl = Produced.with(S, L);
        switch (name) {
            case "filter": {
                b.stream(in.get(0), ss)
                    .filter((k, v) -> v != null && v.contains("a"))
                    .filterNot((k, v) -> k == null)
                    .to(out.get(0), pss);
                break;
            }
            case "map-values-peek": {
                b.stream(in.get(0), ss)
                    .mapValues(v -> upper(v))
                    .peek((k, v) -> { })
                    .to(out.get(0), pss);
                break;
            }
            case "map": {
                b.stream(in.get(0), ss)
                    .map((k, v) -> KeyValue.pair(firstWord(v), k))
                    .to(out.get(0), pss);
                break;
            }
            case "flatmap": {
                KStream<String, String> s = b.stream(in.get(0), ss);
                s.flatMap((k, v) -> {
                    List<KeyValue<String, String>> r = new ArrayList<>();
                    for (String w : words(v)) r.add(KeyValue.pair(w, k));
                    return r;
                }).to(out.get(0), pss);
                s.flatMapValues(v -> words(v)).to(out.get(1), pss);
                break;
            }
            case "select-key-repartition": {
                b.stream(in.get(0), ss)
                    .selectKey((k, v) -> firstWord(v))
                    .repartition()
                    .mapValues(v -> upper(v))
                    .to(out.get(0), pss);
                break;
            }
            case "merge-split": {
                KStream<String, String> a = b.stream(in.get(0), ss);
                KStream<String, String> c = b.stream(in.get(1), ss);
                Map<String, KStream<String, String>> br = a.merge(c)
                    .split(org.apache.kafka.streams.kstream.Named.as("split-"))
                    .branch((k, v) -> v != null && v.startsWith("a"), Branched.as("a"))
                    .branch((k, v) -> k != null && k.compareTo("k3") < 0, Branched.as("low"))
                    .defaultBranch(Branched.as("rest"));
                br.get("split-a").to(out.get(0), pss);
                br.get("split-low").to(out.get(1), pss);
                br.get("split-rest").to(out.get(2), pss);
                break;
            }
            case "wordcount": {
                b.stream(in.get(0), ss)
                    .flatMapValues(v -> words(v))
                    .groupBy((k, w) -> w, Grouped.with("words", S, S))
                    .count(Materialized.as("counts"))
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "groupby-count-uncached": {
                b.stream(in.get(0), ss)
                    .groupBy((k, v) -> firstWord(str(v)), Grouped.with(S, S))
                    .count(uncachedKV())
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "groupby-reduce": {
                b.stream(in.get(0), ss)
                    .groupBy((k, v) -> firstWord(str(v)), Grouped.with(S, S))
                    .reduce((agg, v) -> maxString(agg, v))
                    .toStream()
                    .to(out.get(0), pss);
                break;
            }
            case "groupby-aggregate": {
                b.stream(in.get(0), ss)
                    .groupBy((k, v) -> firstWord(str(v)), Grouped.with(S, S))
                    .aggregate(() -> 0L, (k, v, agg) -> agg + len(v), Materialized.with(S, L))
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "groupbykey-aggregate": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .aggregate(() -> 0L, (k, v, agg) -> agg + len(v), Materialized.with(S, L))
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "table-ops": {
                b.table(in.get(0), ss)
                    .filter((k, v) -> v.length() > 4)
                    .mapValues(v -> upper(v))
                    .toStream()
                    .to(out.get(0), pss);
                break;
            }
            case "table-regroup-count": {
                b.table(in.get(0), ss, uncachedTable())
                    .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
                    .count()
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "table-regroup-reduce": {
                b.table(in.get(0), ss, uncachedTable())
                    .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
                    .reduce((agg, v) -> agg + v, (agg, v) -> removeFirst(agg, v))
                    .toStream()
                    .to(out.get(0), pss);
                break;
            }
            case "table-regroup-aggregate": {
                b.table(in.get(0), ss, uncachedTable())
                    .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
                    .aggregate(() -> 0L, (k, v, agg) -> agg + len(v), (k, v, agg) -> agg - len(v), Materialized.with(S, L))
                    .toStream()
                    .to(out.get(0), psl);
                break;
            }
            case "tumbling-count": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(tumbling())
                    .count()
                    .toStream()
                    .to(out.get(0), timeWindowed());
                break;
            }
            case "tumbling-count-uncached": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(tumbling())
                    .count(uncachedWindowStore())
                    .toStream()
                    .to(out.get(0), timeWindowed());
                break;
            }
            case "hopping-aggregate":
            case "hopping-aggregate-uncached": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(hopping())
                    .aggregate(() -> 0L, (k, v, agg) -> agg + len(v), windowStore(name.equals("hopping-aggregate")))
                    .toStream()
                    .to(out.get(0), timeWindowed());
                break;
            }
            case "session-count": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(sessions())
                    .count()
                    .toStream()
                    .to(out.get(0), sessionWindowed());
                break;
            }
            case "session-count-uncached": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(sessions())
                    .count(uncachedSessionStore())
                    .toStream()
                    .to(out.get(0), sessionWindowed());
                break;
            }
            case "suppress-tumbling": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(tumbling())
                    .count()
                    .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream()
                    .to(out.get(0), timeWindowed());
                break;
            }
            case "suppress-session": {
                b.stream(in.get(0), ss)
                    .groupByKey(Grouped.with(S, S))
                    .windowedBy(sessions())
                    .count()
                    .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream()
                    .to(out.get(0), sessionWindowed());
                break;
            }
            case "join": {
                KTable<String, String> t = b.table(in.get(1), ss);
                b.stream(in.get(0), ss)
                    .join(t, (v, tv) -> v + "|" + tv)
                    .to(out.get(0), pss);
                break;
            }
            case "left-join": {
                KTable<String, String> t = b.table(in.get(1), ss);
                b.stream(in.get(0), ss)
                    .leftJoin(t, (v, tv) -> v + "|" + (tv == null ? "<none>" : tv))
                    .to(out.get(0), pss);
                break;
            }
            case "join-rekeyed": {
                KTable<String, String> t = b.table(in.get(1), ss);
                b.stream(in.get(0), ss)
                    .selectKey((k, v) -> rekey(str(v)))
                    .join(t, (v, tv) -> v + "|" + tv)
                    .to(out.get(0), pss);
                break;
            }
            default:
                throw new IllegalArgumentException("unknown case " + name);
        }
    }
}
