package dev.sluicestreams.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Java Kafka Streams contenders of Sluice's side-by-side benchmark: the
 * same two topologies as bench/contender (stateless filter + map + to, and
 * word count) with the settings the harness passes.
 *
 * <p>Usage: Main stateless|wordcount bootstrap input output applicationId
 * guarantee threads commitMs cacheBytes stateDir
 *
 * <p>Prints "BENCH first &lt;unix nanos&gt;" when the first input record is
 * processed and runs until SIGTERM, then closes cleanly.
 */
public final class Main {
    private static final AtomicBoolean FIRST = new AtomicBoolean();

    private static boolean keep(String line) {
        if (FIRST.compareAndSet(false, true)) {
            long nanos = System.currentTimeMillis() * 1_000_000L;
            System.out.println("BENCH first " + nanos);
            System.out.flush();
        }
        return line != null && !line.startsWith("#");
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 10) {
            System.err.println("usage: Main stateless|wordcount bootstrap input output applicationId guarantee threads commitMs cacheBytes stateDir");
            System.exit(2);
        }
        String mode = args[0], input = args[2], output = args[3];
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[4]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[5]);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args[6]));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(args[7]));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.parseLong(args[8]));
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[9]);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        StreamsBuilder b = new StreamsBuilder();
        KStream<byte[], String> lines = b.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.String()));
        switch (mode) {
            case "stateless":
                lines.filter((k, v) -> keep(v))
                        .mapValues(v -> v.toUpperCase(Locale.ROOT))
                        .to(output, Produced.with(Serdes.ByteArray(), Serdes.String()));
                break;
            case "wordcount":
                lines.filter((k, v) -> keep(v))
                        .flatMapValues(v -> Arrays.asList(v.split(" ")))
                        .filter((k, w) -> !w.isEmpty())
                        .groupBy((k, w) -> w, Grouped.with("words", Serdes.String(), Serdes.String()))
                        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                        .toStream()
                        .to(output, Produced.with(Serdes.String(), Serdes.Long()));
                break;
            default:
                System.err.println("unknown mode " + mode);
                System.exit(2);
        }
        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            done.countDown();
        }));
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        done.await();
    }
}
