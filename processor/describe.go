package processor

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf16"
)

// Describe returns the topology in the text of Kafka Streams'
// Topology.describe().toString(), character for character: each
// sub-topology with its sources (and topics), processors (and stores) and
// sinks (and topic), each followed by arrows to its children (-->) and from
// its parents (<--), and a blank line after each sub-topology. An invalid
// topology describes its error instead.
//
// Kafka Streams lists the nodes of a sub-topology by the size of the
// sub-graph below them (largest first), then by name; topics and stores in
// the iteration order of a java.util.HashSet; and the arrows in the order of
// a TreeSet whose elements were compared while their sizes were still being
// counted, so that order depends on the order nodes were visited in a
// HashMap. Describe reproduces all three (describeOrder, javaHashOrder), so
// that a program described here and in Java reads the same.
func (t *Topology) Describe() string {
	s, err := t.structure()
	if err != nil {
		return "Invalid topology: " + err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString("Topologies:\n ")
	for _, sub := range s.subs {
		b.WriteString("  Sub-topology: ")
		b.WriteString(itoa(int64(sub.ID)))
		b.WriteString("\n")
		for _, d := range describeOrder(s.nodeOrder[sub]) {
			n := d.n
			b.WriteString("    ")
			switch n.kind {
			case kindSource:
				b.WriteString("Source: " + n.name + " (topics: " + javaSet(n.topics) + ")")
			case kindProcessor:
				b.WriteString("Processor: " + n.name + " (stores: " + javaSet(n.stores) + ")")
			case kindSink:
				if n.sinkTopic != "" {
					b.WriteString("Sink: " + n.name + " (topic: " + n.sinkTopic + ")")
				} else {
					// Kafka Streams prints the extractor object here, which
					// has no counterpart in Go.
					b.WriteString("Sink: " + n.name + " (topic extractor)")
				}
			}
			if n.kind != kindSink {
				b.WriteString("\n      --> " + d.succs.names())
			}
			if n.kind != kindSource {
				b.WriteString("\n      <-- " + d.preds.names())
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// descNode is a node being described: the size of the sub-graph below it
// (itself included) and its neighbours in describe order.
type descNode struct {
	n            *node
	size         int
	preds, succs descSet
}

// describeCompare is Kafka Streams' node order: larger sub-graph first,
// then by name (Java compares UTF-16 code units; names are compared as Go
// strings, which is the same order outside the surrogate range).
func describeCompare(a, b *descNode) int {
	if a == b {
		return 0
	}
	if a.size != b.size {
		return b.size - a.size
	}
	return strings.Compare(a.n.name, b.n.name)
}

// describeOrder connects the nodes of one sub-topology as Kafka Streams'
// describe does, and returns them in its listing order. nodes are in the
// order they were added to the topology.
func describeOrder(nodes []*node) []*descNode {
	ds := make([]*descNode, len(nodes))
	byNode := make(map[*node]*descNode, len(nodes))
	for i, n := range nodes {
		ds[i] = &descNode{n: n, size: 1}
		byNode[n] = ds[i]
	}
	// Kafka Streams visits the nodes in the order of a HashMap keyed by
	// name, and the parents of each in the order they were given.
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.name
	}
	visit := javaHashOrder(names, hashSetCapacity(len(names)))
	for _, i := range visit {
		d := ds[i]
		for _, p := range d.n.parents {
			pd := byNode[p]
			d.preds.add(pd)
			pd.succs.add(d)
			growSize(pd, d.size)
		}
	}
	out := slices.Clone(ds)
	slices.SortFunc(out, describeCompare)
	return out
}

func growSize(d *descNode, delta int) {
	d.size += delta
	d.preds.each(func(p *descNode) { growSize(p, delta) })
}

// javaSet formats names as Java's AbstractCollection.toString does for a
// HashSet made from them: "[a, b]" in hash order.
func javaSet(names []string) string {
	order := javaHashOrder(names, copiedSetCapacity(len(names)))
	parts := make([]string, len(order))
	for i, j := range order {
		parts[i] = names[j]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// javaHashOrder returns the indexes of names in the iteration order of a
// java.util.HashMap with the given table capacity into which they were put
// in order: by bucket (the spread String.hashCode masked by the capacity),
// then by insertion within a bucket. Resizing keeps that order, and buckets
// this small are never turned into trees.
func javaHashOrder(names []string, capacity int) []int {
	buckets := make([]int, len(names))
	for i, s := range names {
		h := javaStringHash(s)
		buckets[i] = int((h ^ (h >> 16)) & uint32(capacity-1))
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(buckets[a], buckets[b]) })
	return order
}

// javaStringHash is Java's String.hashCode over UTF-16 code units.
func javaStringHash(s string) uint32 {
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + uint32(u)
	}
	return h
}

// hashSetCapacity is the table size of a HashSet grown from empty by n adds:
// 16, doubled whenever the size passes three quarters of it.
func hashSetCapacity(n int) int {
	c := 16
	for n > c*3/4 {
		c *= 2
	}
	return c
}

// copiedSetCapacity is the table size of new HashSet(collection of n): the
// power of two at or above max(n/0.75 + 1, 16).
func copiedSetCapacity(n int) int {
	want := max(int(float32(n)/0.75)+1, 16)
	c := 1
	for c < want {
		c *= 2
	}
	return c
}

// descSet is a java.util.TreeSet of nodes under describeCompare: a red-black
// tree whose shape decides where a later element goes. Elements are compared
// with the sizes they have when an element is added, and the tree is not
// reordered when sizes grow afterwards; that is what orders Kafka Streams'
// arrows, so the tree is reproduced rather than sorted.
type descSet struct{ root *rbNode }

type rbNode struct {
	d *descNode
	// child[left] and child[right]; the fix-up is written once for both
	// sides by swapping them.
	child  [2]*rbNode
	parent *rbNode
	black  bool
}

const (
	left  = 0
	right = 1
)

func (s *descSet) add(d *descNode) {
	if s.root == nil {
		s.root = &rbNode{d: d, black: true}
		return
	}
	t := s.root
	var parent *rbNode
	side := left
	for t != nil {
		parent = t
		switch c := describeCompare(d, t.d); {
		case c < 0:
			side = left
		case c > 0:
			side = right
		default:
			return
		}
		t = t.child[side]
	}
	e := &rbNode{d: d, parent: parent}
	parent.child[side] = e
	s.fixAfterInsert(e)
}

func (s *descSet) each(fn func(*descNode)) {
	var walk func(*rbNode)
	walk = func(n *rbNode) {
		if n == nil {
			return
		}
		walk(n.child[left])
		fn(n.d)
		walk(n.child[right])
	}
	walk(s.root)
}

// names joins the elements' names with ", ", or is "none".
func (s *descSet) names() string {
	var parts []string
	s.each(func(d *descNode) { parts = append(parts, d.n.name) })
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func isBlack(n *rbNode) bool { return n == nil || n.black }

func parentOf(n *rbNode) *rbNode {
	if n == nil {
		return nil
	}
	return n.parent
}

func childOf(n *rbNode, side int) *rbNode {
	if n == nil {
		return nil
	}
	return n.child[side]
}

func setBlack(n *rbNode, black bool) {
	if n != nil {
		n.black = black
	}
}

// fixAfterInsert restores the red-black invariants after x was added as a
// red leaf: the textbook insertion fix-up, as TreeMap does it, with side
// the side of x's grandparent that its parent is on.
func (s *descSet) fixAfterInsert(x *rbNode) {
	for x != nil && x != s.root && !x.parent.black {
		p, g := parentOf(x), parentOf(parentOf(x))
		side, other := right, left
		if p == childOf(g, left) {
			side, other = left, right
		}
		if y := childOf(g, other); !isBlack(y) {
			setBlack(p, true)
			setBlack(y, true)
			setBlack(g, false)
			x = g
			continue
		}
		if x == childOf(p, other) {
			x = p
			s.rotate(x, side)
		}
		setBlack(parentOf(x), true)
		setBlack(parentOf(parentOf(x)), false)
		s.rotate(parentOf(parentOf(x)), other)
	}
	s.root.black = true
}

// rotate turns p down towards side: its child on the other side takes its
// place (rotate(p, left) is the left rotation).
func (s *descSet) rotate(p *rbNode, side int) {
	if p == nil {
		return
	}
	other := 1 - side
	c := p.child[other]
	p.child[other] = c.child[side]
	if c.child[side] != nil {
		c.child[side].parent = p
	}
	c.parent = p.parent
	switch {
	case p.parent == nil:
		s.root = c
	case p.parent.child[left] == p:
		p.parent.child[left] = c
	default:
		p.parent.child[right] = c
	}
	c.child[side] = p
	p.parent = c
}
