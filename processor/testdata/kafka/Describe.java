import org.apache.kafka.streams.*;
import org.apache.kafka.streams.processor.api.*;
import org.apache.kafka.streams.state.*;
// Prints Topology.describe() of Kafka Streams for processor_test.go's
// describeTopology(t, "ledger"), to stdout (testdata/kafka/two_subtopologies.txt).
public class Describe {
  public static void main(String[] a) {
    Topology t = new Topology();
    ProcessorSupplier<Object,Object,Object,Object> p = () -> new Processor<Object,Object,Object,Object>() { public void process(org.apache.kafka.streams.processor.api.Record<Object,Object> r) {} };
    t.addSource("orders-source", "orders", "orders-eu");
    t.addProcessor("validate", p, "orders-source");
    t.addProcessor("enrich", p, "validate");
    t.addProcessor("audit", p, "validate");
    t.addSink("orders-out", "orders-valid", "enrich", "audit");
    t.addSource("payments-source", "payments");
    t.addProcessor("settle", p, "payments-source");
    t.addSource("refunds-source", "refunds");
    t.addProcessor("refund", p, "refunds-source");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("balances"), null, null), "settle", "refund");
    t.addSink("route", "ledger", "settle", "refund");
    System.out.print(t.describe());
  }
}
