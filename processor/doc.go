// Package processor is Sluice's Processor API: typed records, processors with
// a context for forwarding, punctuation and state stores, and the Topology
// builder that joins source, processor and sink nodes into sub-topologies.
//
// A topology is built once and run by package streams as one task per
// partition of each sub-topology. Nodes call their children through typed
// functions: records are deserialized once at the source and serialized once
// at the sink, with no boxing in between.
//
//	t := processor.NewTopology()
//	_ = processor.AddSource(t, "lines", processor.SourceSpec[string, string]{
//		Topics: []string{"text"}, KeySerde: serde.String(), ValueSerde: serde.String(),
//	})
//	_ = processor.AddProcessor(t, "upper", processor.Func(
//		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
//			return ctx.Forward(processor.WithValue(r, strings.ToUpper(r.Value)))
//		}), "lines")
//	_ = processor.AddSink(t, "out", processor.SinkSpec[string, string]{
//		Topic: "shouted", KeySerde: serde.String(), ValueSerde: serde.String(),
//	}, "upper")
//	fmt.Print(t.Describe())
package processor
