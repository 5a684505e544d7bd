package processor

import (
	"strings"
)

// Describe returns the topology in the layout of Kafka Streams'
// Topology.describe(): each sub-topology with its sources (and topics),
// processors (and stores) and sinks (and topic), each followed by arrows to
// its children (-->) and from its parents (<--). Nodes are listed in the
// order they were added. An invalid topology describes its error instead.
func (t *Topology) Describe() string {
	s, err := t.structure()
	if err != nil {
		return "Invalid topology: " + err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString("Topologies:\n")
	for i, sub := range s.subs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("   Sub-topology: ")
		b.WriteString(itoa(int64(sub.ID)))
		b.WriteString("\n")
		for _, n := range s.nodeOrder[sub] {
			switch n.kind {
			case kindSource:
				b.WriteString("    Source: " + n.name + " (topics: [" + strings.Join(n.topics, ", ") + "])\n")
			case kindProcessor:
				b.WriteString("    Processor: " + n.name + " (stores: [" + strings.Join(n.stores, ", ") + "])\n")
			case kindSink:
				if n.sinkTopic != "" {
					b.WriteString("    Sink: " + n.name + " (topic: " + n.sinkTopic + ")\n")
				} else {
					b.WriteString("    Sink: " + n.name + " (topic extractor)\n")
				}
			}
			if n.kind != kindSink {
				b.WriteString("      --> " + names(n.children) + "\n")
			}
			if n.kind != kindSource {
				b.WriteString("      <-- " + names(n.parents) + "\n")
			}
		}
	}
	return b.String()
}

func names(ns []*node) string {
	if len(ns) == 0 {
		return "none"
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.name
	}
	return strings.Join(parts, ", ")
}
